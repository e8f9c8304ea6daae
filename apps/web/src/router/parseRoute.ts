/** The pages of the console and the URL hash each one lives at. */
export type Route =
  | { page: 'overview' }
  | { page: 'service'; name: string }
  | { page: 'profiles'; name: string | null }
  | { page: 'events' }
  | { page: 'incidents'; id: number | null }
  | { page: 'audit' }

/** Parses a location hash such as `#/services/identity` into a route; anything unknown is the overview. */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part)
      } catch {
        return part
      }
    })
  const [first, second] = parts
  switch (first) {
    case 'services':
      return second === undefined ? { page: 'overview' } : { page: 'service', name: second }
    case 'profiles':
      return { page: 'profiles', name: second ?? null }
    case 'events':
      return { page: 'events' }
    case 'incidents': {
      const id = second === undefined ? null : Number(second)
      return { page: 'incidents', id: id !== null && Number.isInteger(id) && id > 0 ? id : null }
    }
    case 'audit':
      return { page: 'audit' }
    default:
      return { page: 'overview' }
  }
}

/** Returns the hash link of a route, the inverse of parseRoute. */
export function routeHref(route: Route): string {
  switch (route.page) {
    case 'overview':
      return '#/'
    case 'service':
      return `#/services/${encodeURIComponent(route.name)}`
    case 'profiles':
      return route.name === null ? '#/profiles' : `#/profiles/${encodeURIComponent(route.name)}`
    case 'events':
      return '#/events'
    case 'incidents':
      return route.id === null ? '#/incidents' : `#/incidents/${route.id}`
    case 'audit':
      return '#/audit'
  }
}
