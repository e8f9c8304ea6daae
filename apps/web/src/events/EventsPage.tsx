import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useId, useMemo, useRef, useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import { SEVERITY_NAMES } from '../api/severities.js'
import type { AuditRecord, Severity } from '../api/types.js'
import { useServices } from '../services/useServices.js'
import { emptyFilter, matchesFilter, sinceTime, type EventFilter } from './eventFilter.js'
import { exportEvents } from './exportEvents.js'
import { useEventPages } from './useEventPages.js'
import { useEvents } from './useEvents.js'
import { EventCells, EventHeaderRow } from './EventCells.js'

const ranges: { minutes: number; label: string }[] = [
  { minutes: 0, label: 'All time' },
  { minutes: 15, label: 'Last 15 minutes' },
  { minutes: 60, label: 'Last hour' },
  { minutes: 24 * 60, label: 'Last 24 hours' },
  { minutes: 7 * 24 * 60, label: 'Last 7 days' },
]

const maxExportRows = 100_000
const noEvents: AuditRecord[] = []

/**
 * Every stored event, filtered, in a virtualised table that loads older
 * pages as it scrolls. New events from the stream join at the top unless
 * the live tail is paused.
 */
export function EventsPage() {
  const [filter, setFilter] = useState<EventFilter>(emptyFilter)
  const [typeText, setTypeText] = useState('')
  const [paused, setPaused] = useState(false)
  const [exportState, setExportState] = useState<string | null>(null)
  // The range start is fixed when the filter changes, so pages agree on it.
  const since = useMemo(() => sinceTime(filter), [filter])
  const pages = useEventPages(filter, since)
  const services = useServices()
  const live = useEvents().data ?? noEvents
  const ids = { service: useId(), type: useId(), severity: useId(), range: useId() }

  const stored = useMemo(() => (pages.data?.pages.flat() ?? noEvents).filter((event) => since === null || event.time >= since), [pages.data, since])
  const newestStored = stored[0]?.seq ?? 0
  const liveHead = useMemo(
    () => live.filter((event) => event.seq > newestStored && matchesFilter(event, filter, since)),
    [live, newestStored, filter, since],
  )
  const [frozenHead, setFrozenHead] = useState<AuditRecord[]>(noEvents)
  const head = paused ? frozenHead : liveHead
  const rows = useMemo(() => [...head, ...stored], [head, stored])
  const unseen = paused ? liveHead.filter((event) => event.seq > (frozenHead[0]?.seq ?? newestStored)).length : 0

  const scrollRef = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 36,
    overscan: 12,
    getItemKey: (index) => rows[index]!.seq,
  })
  const items = virtualizer.getVirtualItems()
  const lastIndex = items.at(-1)?.index ?? 0

  // Loads the next page when the last rendered row comes within 40 rows of the end.
  useEffect(() => {
    if (lastIndex >= rows.length - 40 && pages.hasNextPage && !pages.isFetchingNextPage) void pages.fetchNextPage()
  }, [lastIndex, rows.length, pages])

  const applyType = () => setFilter({ ...filter, type: typeText.trim().toUpperCase() })

  const runExport = (format: 'jsonl' | 'csv') => {
    setExportState(`Exporting ${format === 'csv' ? 'CSV' : 'JSON Lines'}…`)
    exportEvents(filter, since, format, maxExportRows).then(
      () => setExportState('Export downloaded.'),
      (error: unknown) => setExportState(`Export failed: ${errorMessage(error)}`),
    )
  }

  return (
    <section className="panel events-page" aria-labelledby="events-page-heading">
      <div className="panel-header">
        <h2 id="events-page-heading">Events</h2>
        <span className="muted" data-testid="events-count">
          {rows.length} loaded{pages.hasNextPage ? ', more below' : ''}
        </span>
        {paused ? (
          <span className="notice" role="status">
            Paused, {unseen} new
          </span>
        ) : null}
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => {
            if (!paused) setFrozenHead(liveHead)
            setPaused(!paused)
          }}
        >
          {paused ? 'Resume live tail' : 'Pause live tail'}
        </button>
      </div>
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault()
          applyType()
        }}
      >
        <div>
          <label htmlFor={ids.service}>Service</label>
          <select id={ids.service} value={filter.service} onChange={(event) => setFilter({ ...filter, service: event.target.value })}>
            <option value="">Any</option>
            {services.data?.map((service) => (
              <option key={service.name}>{service.name}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.type}>Type</label>
          <input
            id={ids.type}
            value={typeText}
            placeholder="SERVICE_STARTED"
            pattern="[A-Za-z][A-Za-z0-9_]*"
            list={`${ids.type}-types`}
            onChange={(event) => setTypeText(event.target.value)}
            onBlur={applyType}
          />
          <datalist id={`${ids.type}-types`}>
            {[...new Set(live.map((event) => event.type))].sort().map((type) => (
              <option key={type} value={type} />
            ))}
          </datalist>
        </div>
        <div>
          <label htmlFor={ids.severity}>Severity</label>
          <select id={ids.severity} value={filter.severity} onChange={(event) => setFilter({ ...filter, severity: event.target.value as Severity | '' })}>
            <option value="">Any</option>
            {SEVERITY_NAMES.map((severity) => (
              <option key={severity}>{severity}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.range}>Time</label>
          <select id={ids.range} value={filter.sinceMinutes} onChange={(event) => setFilter({ ...filter, sinceMinutes: Number(event.target.value) })}>
            {ranges.map((range) => (
              <option key={range.minutes} value={range.minutes}>
                {range.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Apply</button>
        <span className="spacer" />
        <button type="button" onClick={() => runExport('jsonl')}>
          Export JSON Lines
        </button>
        <button type="button" onClick={() => runExport('csv')}>
          Export CSV
        </button>
      </form>
      <p className="muted" role="status">
        {exportState ?? `Exports contain up to ${maxExportRows.toLocaleString()} events matching the filter.`}
      </p>
      {pages.isError ? (
        <p className="error" role="alert">
          Events unavailable: {errorMessage(pages.error)}
        </p>
      ) : null}
      <div className="events" role="table" aria-label="Filtered events, newest first" aria-rowcount={rows.length}>
        <EventHeaderRow />
        <div className="events-scroll events-scroll-tall" ref={scrollRef} tabIndex={0} aria-label="Filtered event list, scrollable">
          <div className="events-body" role="rowgroup" style={{ height: virtualizer.getTotalSize() }}>
            {items.map((item) => {
              const event = rows[item.index]!
              return (
                <div
                  key={item.key}
                  ref={virtualizer.measureElement}
                  data-index={item.index}
                  className={`event-row severity-${event.severity}`}
                  role="row"
                  aria-rowindex={item.index + 1}
                  style={{ transform: `translateY(${item.start}px)` }}
                  data-testid="filtered-event-row"
                  data-seq={event.seq}
                >
                  <EventCells event={event} />
                </div>
              )
            })}
          </div>
        </div>
      </div>
      {pages.isFetching ? <p className="muted">Loading…</p> : null}
      {pages.isSuccess && rows.length === 0 ? <p className="muted">No events match the filter.</p> : null}
    </section>
  )
}
