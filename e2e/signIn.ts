import { expect, type Page } from '@playwright/test'
import { e2eServer } from './server.js'

/** The two bodies POST /api/v1/auth/login accepts. */
export type Credentials = { token: string } | { name: string; password: string }

/** Credentials of the server's admin token. */
export function adminCredentials(): Credentials {
  return { token: e2eServer().token }
}

/** Fills and submits the login form without waiting for the result. */
export async function submitLoginForm(page: Page, credentials: Credentials): Promise<void> {
  if ('token' in credentials) {
    await page.getByRole('radio', { name: 'Token' }).check()
    await page.getByLabel('API token').fill(credentials.token)
  } else {
    await page.getByRole('radio', { name: 'User account' }).check()
    await page.getByLabel('User name').fill(credentials.name)
    await page.getByLabel('Password').fill(credentials.password)
  }
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** Opens the dashboard at `hash`, signs in through the form and waits for the navigation. */
export async function signInThroughForm(page: Page, credentials: Credentials = adminCredentials(), hash = ''): Promise<void> {
  await page.goto(`${e2eServer().url}/${hash}`)
  await submitLoginForm(page, credentials)
  await expect(page.getByRole('navigation', { name: 'Pages' })).toBeVisible()
}

/**
 * Signs in with POST /api/v1/auth/login from the page's browser context, so
 * the cookie is in place before the dashboard loads, then opens `hash`.
 * A page load without a cookie counts as a failed sign-in on the server,
 * and ten of those in a minute rate-limit the address, so tests that do
 * not test the form sign in this way.
 */
export async function signInThroughApi(page: Page, credentials: Credentials = adminCredentials(), hash = ''): Promise<void> {
  const { url } = e2eServer()
  const response = await page.request.post(`${url}/api/v1/auth/login`, { data: credentials })
  expect(response.status(), await response.text()).toBe(200)
  await page.goto(`${url}/${hash}`)
  await expect(page.getByRole('navigation', { name: 'Pages' })).toBeVisible()
}
