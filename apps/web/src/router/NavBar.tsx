import type { Route } from './parseRoute.js'

const links: { page: Route['page']; href: string; label: string }[] = [
  { page: 'overview', href: '#/', label: 'Overview' },
  { page: 'events', href: '#/events', label: 'Events' },
  { page: 'incidents', href: '#/incidents', label: 'Incidents' },
  { page: 'profiles', href: '#/profiles', label: 'Profiles' },
  { page: 'audit', href: '#/audit', label: 'Audit' },
]

/** The header's page links; the current page is marked for screen readers too. */
export function NavBar({ route }: { route: Route }) {
  const current = route.page === 'service' ? 'overview' : route.page
  return (
    <nav className="nav" aria-label="Pages">
      {links.map((link) => (
        <a key={link.page} href={link.href} className="nav-link" aria-current={link.page === current ? 'page' : undefined}>
          {link.label}
        </a>
      ))}
    </nav>
  )
}
