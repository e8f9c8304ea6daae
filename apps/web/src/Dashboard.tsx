import { useQueryClient } from '@tanstack/react-query'
import { tokenStore } from './auth/tokenStore.js'
import { EventsFeed } from './events/EventsFeed.js'
import { HostFacts } from './host/HostFacts.js'
import { ServicesTable } from './services/ServicesTable.js'
import { ConnectionStatus } from './stream/ConnectionStatus.js'
import { useStream } from './stream/useStream.js'
import { ThemeToggle } from './ui/ThemeToggle.js'

/** The signed-in view: host facts, services and the live events feed. */
export function Dashboard({ token }: { token: string }) {
  const queryClient = useQueryClient()
  const stream = useStream(token)

  return (
    <>
      <header className="header">
        <div className="header-top">
          <h1>Blackhole</h1>
          <ConnectionStatus state={stream} />
          <span className="spacer" />
          <ThemeToggle />
          <button
            type="button"
            onClick={() => {
              tokenStore.signOut()
              queryClient.clear()
            }}
          >
            Log out
          </button>
        </div>
        <HostFacts />
      </header>
      <main className="main">
        <ServicesTable />
        <EventsFeed />
      </main>
    </>
  )
}
