import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { queryKeys } from '../api/queryKeys.js'
import { applyStreamMessage } from './applyStreamMessage.js'
import { StreamClient, type StreamState } from './StreamClient.js'
import { streamUrl } from './streamUrl.js'

const initialState: StreamState = {
  status: 'connecting',
  attempt: 0,
  retryAt: null,
  paused: false,
  lastClose: null,
}

/**
 * Keeps one WebSocket to /api/v1/stream open while `enabled`, feeds its
 * messages into the query cache, defers updates while the tab is hidden,
 * and returns the connection state. When the server rejects the session
 * cookie, the session is read again, and its 401 shows the login form.
 */
export function useStream(enabled: boolean): StreamState {
  const queryClient = useQueryClient()
  const [state, setState] = useState<StreamState>(initialState)

  useEffect(() => {
    if (!enabled) return
    let hellos = 0
    const client = new StreamClient({
      url: streamUrl(),
      onMessage: (message) => {
        if (message.type === 'hello') hellos += 1
        applyStreamMessage(queryClient, message, hellos > 1)
      },
      onState: setState,
      onRejected: () => void queryClient.refetchQueries({ queryKey: queryKeys.session }),
      onGap: () => {
        void queryClient.invalidateQueries({ queryKey: queryKeys.services })
        void queryClient.invalidateQueries({ queryKey: queryKeys.events })
      },
    })
    const syncVisibility = () => client.setPaused(document.visibilityState === 'hidden')
    syncVisibility()
    document.addEventListener('visibilitychange', syncVisibility)
    client.start()
    return () => {
      document.removeEventListener('visibilitychange', syncVisibility)
      client.stop()
    }
  }, [enabled, queryClient])

  return state
}
