import { useVirtualizer } from '@tanstack/react-virtual'
import { useRef, useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import type { AuditRecord } from '../api/types.js'
import { useEvents } from './useEvents.js'
import { EventCells, EventHeaderRow } from './EventCells.js'

const noEvents: AuditRecord[] = []

/**
 * The audit events, newest first. Pausing freezes the list that is shown
 * while new events keep arriving in the cache, and counts them.
 */
export function EventsFeed() {
  const events = useEvents()
  const [frozen, setFrozen] = useState<AuditRecord[] | null>(null)
  const live = events.data ?? noEvents
  const shown = frozen ?? live
  const newest = shown[0]?.seq ?? -1
  const unseen = frozen === null ? 0 : live.filter((event) => event.seq > newest).length

  const scrollRef = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 40,
    overscan: 10,
    getItemKey: (index) => shown[index]!.seq,
  })

  return (
    <section className="panel" aria-labelledby="events-heading">
      <div className="panel-header">
        <h2 id="events-heading">Events</h2>
        <span className="muted">{shown.length} shown</span>
        {frozen !== null ? (
          <span className="notice" role="status">
            Paused, {unseen} new
          </span>
        ) : null}
        <button
          type="button"
          aria-pressed={frozen !== null}
          onClick={() => setFrozen(frozen === null ? live : null)}
        >
          {frozen === null ? 'Pause' : 'Resume feed'}
        </button>
      </div>
      {events.isPending ? <p className="muted">Loading events…</p> : null}
      {events.isError ? (
        <p className="error" role="alert">
          Events unavailable: {errorMessage(events.error)}
        </p>
      ) : null}
      <div className="events" role="table" aria-label="Audit events, newest first" aria-rowcount={shown.length}>
        <EventHeaderRow />
        <div className="events-scroll" ref={scrollRef} tabIndex={0} aria-label="Event list, scrollable">
          <div className="events-body" role="rowgroup" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const event = shown[item.index]!
              return (
                <div
                  key={item.key}
                  ref={virtualizer.measureElement}
                  data-index={item.index}
                  className={`event-row severity-${event.severity}`}
                  role="row"
                  aria-rowindex={item.index + 1}
                  style={{ transform: `translateY(${item.start}px)` }}
                  data-testid="event-row"
                  data-seq={event.seq}
                >
                  <EventCells event={event} />
                </div>
              )
            })}
          </div>
        </div>
      </div>
      {events.isSuccess && shown.length === 0 ? <p className="muted">No events yet.</p> : null}
    </section>
  )
}
