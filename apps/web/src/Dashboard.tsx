import { AuditPage } from './audit/AuditPage.js'
import { errorMessage } from './api/ApiError.js'
import type { Session } from './auth/session.js'
import { useSignOut } from './auth/useSignOut.js'
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

/** Renders the signed-in view: the header with navigation and the account, then the page in the URL hash. */
export function Dashboard({ session }: { session: Session }) {
  const stream = useStream(true)
  const route = useRoute()
  const signOut = useSignOut()

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
          <span className="account" data-testid="account" title={`Signed in as ${session.subject}`}>
            <span data-testid="account-user">{session.user}</span>
            <span className="role-badge" data-testid="account-role">
              {session.role}
            </span>
          </span>
          <button type="button" disabled={signOut.isPending} onClick={() => signOut.mutate()}>
            Log out
          </button>
        </div>
        {signOut.isError ? (
          <p className="error" role="alert">
            Logout failed: {errorMessage(signOut.error)}
          </p>
        ) : null}
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
