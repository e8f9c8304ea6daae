import { useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import type { ServiceAction, ServiceStatus } from '../api/types.js'
import { ConfirmDialog } from '../ui/ConfirmDialog.js'
import { useServiceAction } from './useServiceAction.js'

interface ActionSpec {
  label: string
  tone: 'default' | 'warning' | 'danger'
  title: string
  description: string
  /** Service states in which the button is offered. */
  states: ServiceStatus['state'][]
}

const actions: Record<Exclude<ServiceAction, 'stop'>, ActionSpec> = {
  start: {
    label: 'Start',
    tone: 'default',
    title: 'Start',
    description: 'Launches the service in its sandbox again.',
    states: ['stopped', 'failed'],
  },
  isolate: {
    label: 'Isolate',
    tone: 'warning',
    title: 'Isolate',
    description: 'Freezes every process of the service and cuts its network. Resume undoes both.',
    states: ['running'],
  },
  resume: {
    label: 'Resume',
    tone: 'default',
    title: 'Resume',
    description: 'Thaws the processes and restores the network.',
    states: ['isolated'],
  },
  terminate: {
    label: 'Terminate',
    tone: 'danger',
    title: 'Terminate',
    description:
      'Sends SIGTERM to the process group, SIGKILL after the grace period, and kills whatever is left in the cgroup.',
    states: ['running', 'isolated', 'starting', 'stopping'],
  },
}

type OfferedAction = keyof typeof actions

const pastTense: Record<OfferedAction, string> = {
  start: 'Started',
  isolate: 'Isolated',
  resume: 'Resumed',
  terminate: 'Terminated',
}

/** The action buttons of one service, each behind a confirmation dialog. */
export function ServiceActions({ service }: { service: ServiceStatus }) {
  const [pending, setPending] = useState<OfferedAction | null>(null)
  const mutation = useServiceAction(service.name)
  const offered = (Object.keys(actions) as OfferedAction[]).filter((action) =>
    actions[action].states.includes(service.state),
  )
  const spec = pending === null ? null : actions[pending]

  return (
    <div className="actions">
      <div className="action-buttons">
        {offered.map((action) => (
          <button
            key={action}
            type="button"
            className={`button-${actions[action].tone}`}
            disabled={mutation.isPending}
            onClick={() => setPending(action)}
            aria-label={`${actions[action].label} ${service.name}`}
          >
            {actions[action].label}
          </button>
        ))}
      </div>
      <p className="action-result" role="status" data-testid="action-result">
        {mutation.isPending ? `${actions[mutation.variables as OfferedAction].label}…` : null}
        {mutation.isSuccess ? (
          <span className="success">
            {pastTense[mutation.data.action as OfferedAction]}: now {mutation.data.service.state}
          </span>
        ) : null}
        {mutation.isError ? <span className="error">{errorMessage(mutation.error)}</span> : null}
      </p>
      <ConfirmDialog
        open={spec !== null}
        title={spec === null ? '' : `${spec.title} ${service.name}?`}
        confirmLabel={spec?.label ?? ''}
        tone={spec?.tone ?? 'default'}
        confirmText={pending === 'terminate' ? service.name : undefined}
        onCancel={() => setPending(null)}
        onConfirm={() => {
          if (pending !== null) mutation.mutate(pending)
          setPending(null)
        }}
      >
        <p>{spec?.description}</p>
      </ConfirmDialog>
    </div>
  )
}
