import { useQueryClient } from '@tanstack/react-query'
import { AuditPage } from './audit/AuditPage.js'
import { tokenStore } from './auth/tokenStore.js'
import { EventsPage } from './events/EventsPage.js'
import { HostFacts } from './host/HostFacts.js'
import { IncidentsPage } from './incidents/IncidentsPage.js'
import { OverviewPage } from './overview/OverviewPage.js'
import { ProfilesPage } from './profiles/ProfilesPage.js'
import { NavBar } from './router/NavBar.js'
import { useRoute } from './router/useRoute.js'
import { ServiceDetailPage } from './services/ServiceDetailPage.js'
import { ConnectionStatus } from './stream/ConnectionStatus.js'
import { useStream } from './stream/useStream.js'
import { ThemeToggle } from './ui/ThemeToggle.js'

/** The signed-in view: the header with navigation, then the page in the URL hash. */
export function Dashboard({ token }: { token: string }) {
  const queryClient = useQueryClient()
  const stream = useStream(token)
  const route = useRoute()

  return (
    <>
      <header className="header">
        <div className="header-top">
          <h1>
            <a href="#/" className="brand">
              Blackhole
            </a>
          </h1>
          <NavBar route={route} />
          <span className="spacer" />
          <ConnectionStatus state={stream} />
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
        {route.page === 'overview' ? <HostFacts /> : null}
      </header>
      <main className="main">
        {route.page === 'overview' ? <OverviewPage /> : null}
        {route.page === 'service' ? <ServiceDetailPage key={route.name} name={route.name} /> : null}
        {route.page === 'profiles' ? <ProfilesPage name={route.name} /> : null}
        {route.page === 'events' ? <EventsPage /> : null}
        {route.page === 'incidents' ? <IncidentsPage id={route.id} /> : null}
        {route.page === 'audit' ? <AuditPage /> : null}
      </main>
    </>
  )
}
