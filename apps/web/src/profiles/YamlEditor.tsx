import { useRef, type KeyboardEvent } from 'react'
import type { ProfileIssue } from '../api/types.js'

export interface YamlEditorProps {
  value: string
  onChange: (value: string) => void
  errors: ProfileIssue[]
  label: string
  /** Shows the text without letting it change, for roles that may not save. */
  readOnly?: boolean
}

/** Moves the caret of a textarea to the start of a 1-based line and scrolls it into view. */
function focusLine(textarea: HTMLTextAreaElement, line: number): void {
  const lines = textarea.value.split('\n')
  const offset = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0)
  textarea.focus()
  textarea.setSelectionRange(offset, offset)
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20
  textarea.scrollTop = Math.max(0, (line - 3) * lineHeight)
}

/**
 * A textarea with line numbers. Lines with a validation error are marked
 * in the gutter, and each error below links to its line.
 */
export function YamlEditor({ value, onChange, errors, label, readOnly = false }: YamlEditorProps) {
  const textareaRef = useRef<HTMLTextAreaElement>(null)
  const gutterRef = useRef<HTMLDivElement>(null)
  const lineCount = value.split('\n').length
  const errorLines = new Map<number, string>()
  for (const error of errors) if (!errorLines.has(error.line)) errorLines.set(error.line, error.message)

  // Tab inserts two spaces, as YAML indents with spaces; Escape then Tab leaves the field.
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key !== 'Tab' || event.shiftKey) return
    const target = event.currentTarget
    if (target.dataset.escaped === 'true') return
    event.preventDefault()
    const { selectionStart, selectionEnd } = target
    const next = `${value.slice(0, selectionStart)}  ${value.slice(selectionEnd)}`
    onChange(next)
    requestAnimationFrame(() => target.setSelectionRange(selectionStart + 2, selectionStart + 2))
  }

  return (
    <div className="yaml-editor-wrap">
      <div className="yaml-editor">
        <div className="yaml-gutter" ref={gutterRef} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => {
            const message = errorLines.get(i + 1)
            return (
              <div key={i} className={message === undefined ? 'gutter-line' : 'gutter-line gutter-error'} title={message} data-line={i + 1}>
                {i + 1}
              </div>
            )
          })}
        </div>
        <textarea
          ref={textareaRef}
          aria-label={label}
          readOnly={readOnly}
          aria-invalid={errors.length > 0}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          value={value}
          onChange={(event) => onChange(event.target.value)}
          onKeyDown={onKeyDown}
          onKeyUp={(event) => {
            event.currentTarget.dataset.escaped = event.key === 'Escape' ? 'true' : 'false'
          }}
          onScroll={(event) => {
            if (gutterRef.current !== null) gutterRef.current.scrollTop = event.currentTarget.scrollTop
          }}
        />
      </div>
      {errors.length > 0 ? (
        <ul className="editor-errors" aria-label="Validation errors" data-testid="editor-errors">
          {errors.map((error, i) => (
            <li key={i}>
              <button
                type="button"
                className="button-quiet"
                onClick={() => {
                  if (textareaRef.current !== null) focusLine(textareaRef.current, error.line)
                }}
              >
                Line {error.line}, column {error.col}
              </button>{' '}
              {error.path === '' ? '' : <code>{error.path}</code>} <span className="error">{error.message}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}
