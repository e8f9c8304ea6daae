import { EventsFeed } from '../events/EventsFeed.js'
import { ServicesTable } from '../services/ServicesTable.js'
import { EventsPerMinute } from './EventsPerMinute.js'
import { OpenIncidents } from './OpenIncidents.js'

/** The landing page: services, open incidents, the event rate and the live feed. */
export function OverviewPage() {
  return (
    <>
      <ServicesTable />
      <div className="two-columns">
        <OpenIncidents />
        <EventsPerMinute />
      </div>
      <EventsFeed />
    </>
  )
}
