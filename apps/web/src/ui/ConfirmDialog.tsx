import { useEffect, useId, useRef, useState, type ReactNode } from 'react'

export interface ConfirmDialogProps {
  open: boolean
  title: string
  children: ReactNode
  confirmLabel: string
  tone: 'default' | 'warning' | 'danger'
  /** When set, the confirm button stays disabled until this text is typed. */
  confirmText?: string
  onConfirm: () => void
  onCancel: () => void
}

/**
 * A modal confirmation built on <dialog>, which traps focus and closes on
 * Escape without extra code.
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const { open, title, children, confirmLabel, tone, confirmText, onConfirm, onCancel } = props
  const dialogRef = useRef<HTMLDialogElement>(null)
  const [typed, setTyped] = useState('')
  const titleId = useId()
  const inputId = useId()

  useEffect(() => {
    const dialog = dialogRef.current
    if (dialog === null) return
    if (open && !dialog.open) {
      setTyped('')
      dialog.showModal()
    }
    if (!open && dialog.open) dialog.close()
  }, [open])

  const confirmEnabled = confirmText === undefined || typed === confirmText

  return (
    <dialog
      ref={dialogRef}
      className={`dialog dialog-${tone}`}
      aria-labelledby={titleId}
      onClose={() => {
        if (open) onCancel()
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault()
          if (confirmEnabled) onConfirm()
        }}
      >
        <h2 id={titleId}>{title}</h2>
        <div className="dialog-body">{children}</div>
        {confirmText !== undefined ? (
          <p>
            <label htmlFor={inputId}>
              Type <strong>{confirmText}</strong> to confirm
            </label>
            <input
              id={inputId}
              value={typed}
              autoComplete="off"
              spellCheck={false}
              onChange={(event) => setTyped(event.target.value)}
            />
          </p>
        ) : null}
        <div className="dialog-buttons">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className={`button-${tone}`} disabled={!confirmEnabled} autoFocus={confirmText === undefined}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  )
}
