import { describe, expect, it } from 'vitest'
import { parseRoute, routeHref, type Route } from '../parseRoute.js'

describe('parseRoute', () => {
  it('should parse each page', () => {
    expect(parseRoute('')).toEqual({ page: 'overview' })
    expect(parseRoute('#/')).toEqual({ page: 'overview' })
    expect(parseRoute('#/services/identity')).toEqual({ page: 'service', name: 'identity' })
    expect(parseRoute('#/profiles')).toEqual({ page: 'profiles', name: null })
    expect(parseRoute('#/profiles/storage')).toEqual({ page: 'profiles', name: 'storage' })
    expect(parseRoute('#/events')).toEqual({ page: 'events' })
    expect(parseRoute('#/incidents/12')).toEqual({ page: 'incidents', id: 12 })
    expect(parseRoute('#/audit')).toEqual({ page: 'audit' })
  })

  it('should fall back on unknown or bad input', () => {
    expect(parseRoute('#/nowhere')).toEqual({ page: 'overview' })
    expect(parseRoute('#/incidents/-3')).toEqual({ page: 'incidents', id: null })
    expect(parseRoute('#/services/%E0%A4%A')).toEqual({ page: 'service', name: '%E0%A4%A' })
  })

  it('should invert routeHref', () => {
    const routes: Route[] = [
      { page: 'overview' },
      { page: 'service', name: 'a b/c' },
      { page: 'profiles', name: null },
      { page: 'profiles', name: 'web' },
      { page: 'events' },
      { page: 'incidents', id: null },
      { page: 'incidents', id: 4 },
      { page: 'audit' },
    ]
    for (const route of routes) expect(parseRoute(routeHref(route))).toEqual(route)
  })
})
