import { useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import type { ServiceAction, ServiceStatus } from '../api/types.js'
import { useHasRole } from '../auth/useHasRole.js'
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

const actions: Record<ServiceAction, ActionSpec> = {
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
  stop: {
    label: 'Stop',
    tone: 'default',
    title: 'Stop',
    description: 'Sends SIGTERM and waits for the service to exit; it stays stopped until started.',
    states: ['running', 'starting'],
  },
  block: {
    label: 'Block',
    tone: 'danger',
    title: 'Block network of',
    description: 'Cuts the network of the service while its processes keep running. Unblock restores it.',
    states: ['running'],
  },
  unblock: {
    label: 'Unblock',
    tone: 'default',
    title: 'Unblock network of',
    description: 'Restores the network of the service.',
    states: ['running'],
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

type OfferedAction = ServiceAction

const pastTense: Record<OfferedAction, string> = {
  start: 'Started',
  stop: 'Stopped',
  isolate: 'Isolated',
  resume: 'Resumed',
  block: 'Blocked',
  unblock: 'Unblocked',
  terminate: 'Terminated',
}

/** Actions that need the service name typed before they run. */
const typedConfirmation = new Set<OfferedAction>(['terminate', 'block'])

/** Every action, for the service detail page; destructive ones live only there. */
export const allActions: readonly OfferedAction[] = ['start', 'stop', 'isolate', 'resume', 'block', 'unblock', 'terminate']

function isOffered(action: OfferedAction, service: ServiceStatus): boolean {
  if (!actions[action].states.includes(service.state)) return false
  // Block and unblock apply to a running service whose network is, or is not, cut.
  if (action === 'block') return !service.blocked
  if (action === 'unblock') return service.blocked
  return true
}

export interface ServiceActionsProps {
  service: ServiceStatus
  /** The actions to offer when the state allows them. */
  available: readonly OfferedAction[]
  /** Show the audit record each action produced. */
  showRecord?: boolean
}

/**
 * Renders the action buttons of one service, each behind a confirmation
 * dialog. Viewers get none, because every action needs the operator role.
 */
export function ServiceActions({ service, available, showRecord = false }: ServiceActionsProps) {
  const [pending, setPending] = useState<OfferedAction | null>(null)
  const mutation = useServiceAction(service.name)
  const mayAct = useHasRole('operator')
  const offered = mayAct ? available.filter((action) => isOffered(action, service)) : []
  const spec = pending === null ? null : actions[pending]

  return (
    <div className="actions">
      {!mayAct && showRecord ? (
        <p className="muted" data-testid="read-only-note">
          Read only: service actions need the operator role.
        </p>
      ) : null}
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
        {mutation.isPending ? `${actions[mutation.variables].label}…` : null}
        {mutation.isSuccess ? (
          <span className="success">
            {pastTense[mutation.data.action]}: now {mutation.data.service.state}
            {mutation.data.service.blocked && mutation.data.service.state === 'running' ? ', network cut' : ''}
          </span>
        ) : null}
        {showRecord && mutation.isSuccess && mutation.data.record !== null ? (
          <span className="action-record" data-testid="action-record">
            {' '}
            Audit record #{mutation.data.record.seq}: {mutation.data.record.type} by {mutation.data.record.actor ?? 'unknown'}
          </span>
        ) : null}
        {mutation.isError ? <span className="error">{errorMessage(mutation.error)}</span> : null}
      </p>
      <ConfirmDialog
        open={spec !== null}
        title={spec === null ? '' : `${spec.title} ${service.name}?`}
        confirmLabel={spec?.label ?? ''}
        tone={spec?.tone ?? 'default'}
        confirmText={pending !== null && typedConfirmation.has(pending) ? service.name : undefined}
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
