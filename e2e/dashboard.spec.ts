import { expect, test, type APIRequestContext, type Page, type WebSocketRoute } from '@playwright/test'
import { e2eServer } from './server.js'
import { signInThroughApi, signInThroughForm, submitLoginForm } from './signIn.js'

/** Signs in as admin; the form itself is tested by the login tests. */
async function signIn(page: Page): Promise<void> {
  await signInThroughApi(page)
}

/** Returns the localStorage and sessionStorage entries of the page. */
async function webStorage(page: Page): Promise<string[]> {
  return page.evaluate(() => [
    ...Object.entries(localStorage).map(([key, value]) => `localStorage ${key}=${value}`),
    ...Object.entries(sessionStorage).map(([key, value]) => `sessionStorage ${key}=${value}`),
  ])
}

function serviceRow(page: Page, name: string) {
  return page.locator(`tr[data-service="${name}"]`)
}

function serviceState(page: Page, name: string) {
  return serviceRow(page, name).getByTestId('state-badge')
}

/** The summary panel of the service page, which contains the state badge and every action. */
function servicePanel(page: Page, name: string) {
  return page.locator(`section[data-service="${name}"]`)
}

function detailState(page: Page, name: string) {
  return servicePanel(page, name).getByTestId('state-badge')
}

/** Opens the service page through its link in the overview table. */
async function openService(page: Page, name: string): Promise<void> {
  await serviceRow(page, name).getByRole('link', { name, exact: true }).click()
  await expect(page.getByRole('heading', { name, exact: true })).toBeVisible()
}

/** Rows of the events feed with `type` for `service`. */
function eventRows(page: Page, type: string, service: string) {
  return page
    .getByRole('table', { name: 'Audit events, newest first' })
    .getByRole('row')
    .filter({ has: page.getByRole('cell', { name: type, exact: true }) })
    .filter({ has: page.getByRole('cell', { name: service, exact: true }) })
}

/** Returns the seq of the newest audit record, read through the API. */
async function newestSeq(request: APIRequestContext): Promise<number> {
  const { url, token } = e2eServer()
  const response = await request.get(`${url}/api/v1/events?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(response.status()).toBe(200)
  const events = (await response.json()) as { seq: number }[]
  return events[0]?.seq ?? 0
}

/**
 * Waits until the feed shows a `type` event for `service` newer than
 * `afterSeq`, so an event from an earlier test cannot satisfy the check.
 */
async function expectNewEvent(page: Page, type: string, service: string, afterSeq: number): Promise<void> {
  const rows = eventRows(page, type, service)
  await expect(rows.first()).toBeVisible()
  const newestShown = async () => {
    const seqs = await rows.evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-seq'))))
    return Math.max(0, ...seqs)
  }
  await expect.poll(newestShown, { message: `${type} for ${service} after seq ${afterSeq}` }).toBeGreaterThan(afterSeq)
}

/** Returns the largest seq among the event rows on screen. */
async function newestSeqShown(page: Page): Promise<number> {
  const seqs = await page
    .getByTestId('event-row')
    .evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-seq'))))
  return Math.max(0, ...seqs)
}

/** Runs a service action through the API, bypassing the dashboard. */
async function postAction(request: APIRequestContext, service: string, action: string): Promise<void> {
  const { url, token } = e2eServer()
  const response = await request.post(`${url}/api/v1/services/${service}/${action}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(response.status(), `${action} ${service}: ${await response.text()}`).toBe(200)
}

/** Opens the action's dialog, confirms it and waits for the dialog to close. */
async function confirmAction(page: Page, action: string, service: string): Promise<void> {
  await page.getByRole('button', { name: `${action} ${service}` }).click()
  const dialog = page.getByRole('dialog', { name: `${action} ${service}?` })
  await expect(dialog).toBeVisible()
  await dialog.getByRole('button', { name: action, exact: true }).click()
  await expect(dialog).toBeHidden()
}

// The tests share one server and run in file order on one worker. A test
// that changes a service returns it to running, and a failed test does not
// skip the ones after it.
// NOTE: the server returns 429 for requests from an address after 10
// failed authentications in a minute, except those with a valid token or
// session. The wrong-token tests below cause about eight, and every page
// load without a session cookie adds one, so add new ones with care.

/**
 * Matches the login form's notice after a failed request: the server's
 * reason, or its rate-limit message when the earlier failures of the
 * suite reached the limit first.
 */
function signedOutMessage(reason: string): RegExp {
  const escaped = reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^Signed out: (${escaped}|too many failed authentication attempts from this address)`)
}

test('login rejects a wrong token', async ({ page, request }) => {
  const { url } = e2eServer()
  const response = await request.get(`${url}/api/v1/host`, {
    headers: { authorization: 'Bearer not-the-token' },
  })
  expect(response.status()).toBe(401)
  const body = (await response.json()) as { error: string; message: string }

  await page.goto(url)
  await submitLoginForm(page, { token: 'not-the-token' })
  await expect(page.getByRole('alert')).toHaveText(body.message)
  await expect(page.getByLabel('API token')).toBeVisible()
  expect(await webStorage(page)).toEqual([])
  expect(await page.context().cookies()).toEqual([])
})

test('login keeps the session in a cookie', async ({ page, request }) => {
  const { url, token } = e2eServer()
  await signInThroughForm(page, { token })
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  await expect(page.getByTestId('connection-status')).toHaveText('Live')
  await expect(page.getByLabel('Host facts')).toBeVisible()
  await expect(page.getByTestId('account-user')).toHaveText('admin')
  await expect(page.getByTestId('account-role')).toHaveText('admin')

  const cookies = await page.context().cookies()
  expect(cookies.map((cookie) => cookie.name)).toEqual(['blackhole_session'])
  const cookie = cookies[0]!
  expect(cookie.httpOnly).toBe(true)
  expect(cookie.sameSite).toBe('Strict')
  expect(await page.evaluate(() => document.cookie)).not.toContain(cookie.value)
  expect(await page.evaluate(() => document.cookie)).not.toContain('blackhole_session')
  expect(await webStorage(page)).toEqual([])
  const html = await page.content()
  expect(html).not.toContain(token)

  await page.reload()
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  await expect(page.getByTestId('account-role')).toHaveText('admin')

  const sessionCookie = `blackhole_session=${cookie.value}`
  const before = await request.get(`${url}/api/v1/auth/session`, { headers: { cookie: sessionCookie } })
  expect(before.status()).toBe(200)

  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page.getByLabel('User name')).toBeVisible()
  expect(await page.context().cookies()).toEqual([])
  expect(await webStorage(page)).toEqual([])
  const after = await request.get(`${url}/api/v1/auth/session`, { headers: { cookie: sessionCookie } })
  expect(after.status()).toBe(401)
  const afterBody = (await after.json()) as { error: string }
  expect(afterBody.error).toBe('UNAUTHORIZED')

  // A reload after logout stays on the login page.
  await page.reload()
  await expect(page.getByLabel('User name')).toBeVisible()
})

test('services show state and live metrics', async ({ page }) => {
  await signIn(page)
  await expect(serviceState(page, 'identity')).toHaveText('running')
  await expect(serviceState(page, 'storage')).toHaveText('running')
  await expect(serviceRow(page, 'identity').locator('td[data-label="PID"]')).toHaveText(/^\d+$/)
  // Memory appears once the first `metrics` message arrives on the socket.
  await expect(serviceRow(page, 'storage').locator('td[data-label="Memory"] .numeric')).toHaveText(/\d (B|KiB|MiB|GiB)/)
  await expect(serviceRow(page, 'storage').locator('td[data-label="CPU"] .numeric')).toHaveText(/\d %/)
  // A sparkline appears from the second sample on.
  await expect(serviceRow(page, 'storage').locator('td[data-label="Memory"] polyline')).toHaveAttribute('points', /\S+ \S+/)
  // Kept for a look at the layout against real data.
  await page.screenshot({ path: test.info().outputPath('dashboard-1280.png'), fullPage: true })
})

test('dialogs work from the keyboard', async ({ page }) => {
  await page.goto(e2eServer().url)
  await page.getByRole('radio', { name: 'Token' }).check()
  await page.getByLabel('API token').fill(e2eServer().token)
  await page.keyboard.press('Enter')
  await expect(serviceState(page, 'storage')).toHaveText('running')
  await openService(page, 'storage')

  const terminate = page.getByRole('button', { name: 'Terminate storage' })
  await terminate.focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Terminate storage?' })
  await expect(dialog).toBeVisible()
  await expect(dialog.getByLabel('Type storage to confirm')).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(terminate).toBeFocused()
  await expect(detailState(page, 'storage')).toHaveText('running')
})

test('narrow window has no sideways scroll', async ({ page }) => {
  await page.setViewportSize({ width: 420, height: 900 })
  await signIn(page)
  await expect(serviceState(page, 'identity')).toBeVisible()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(overflow).toBeLessThanOrEqual(0)
  await openService(page, 'storage')
  await expect(page.getByRole('button', { name: 'Isolate storage' })).toBeVisible()
  const detailOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(detailOverflow).toBeLessThanOrEqual(0)
})

test('stream reconnects after a drop', async ({ page }) => {
  const routes: WebSocketRoute[] = []
  await page.routeWebSocket(/\/api\/v1\/stream$/, (route) => {
    routes.push(route)
    route.connectToServer()
  })
  await signIn(page)
  const status = page.getByTestId('connection-status')
  await expect(status).toHaveText('Live')
  expect(routes).toHaveLength(1)

  await routes[0]!.close({ code: 4000, reason: 'dropped by the test' })
  await expect(status).toHaveText(/^Disconnected, retry 1 in \d s$/)
  await expect(status).toHaveText('Live')
  expect(routes).toHaveLength(2)
  // The services still come through the new connection.
  await expect(serviceState(page, 'storage')).toHaveText('running')
})

/** Fakes the tab's visibility, since a headless page is always visible. */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((next) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => next })
    document.dispatchEvent(new Event('visibilitychange'))
  }, state)
}

test('hidden tab pauses metrics', async ({ page }) => {
  const sent: { type: string; topics?: string[] }[] = []
  await page.routeWebSocket(/\/api\/v1\/stream$/, (route) => {
    const server = route.connectToServer()
    route.onMessage((message) => {
      sent.push(JSON.parse(String(message)) as { type: string })
      server.send(message)
    })
  })
  const lastSubscribe = () => sent.filter((message) => message.type === 'subscribe').at(-1) ?? null
  await signIn(page)
  const status = page.getByTestId('connection-status')
  await expect(status).toHaveText('Live')
  // The cookie authenticates the socket, so the client sends nothing before hello.
  expect(sent.filter((message) => message.type === 'auth')).toEqual([])
  expect(lastSubscribe()).toBeNull()

  await setVisibility(page, 'hidden')
  await expect(status).toHaveText('Live: paused while hidden')
  await expect.poll(lastSubscribe).toEqual({ type: 'subscribe', topics: ['events', 'services'] })

  await setVisibility(page, 'visible')
  await expect(status).toHaveText('Live')
  await expect.poll(lastSubscribe).toEqual({ type: 'subscribe', topics: ['events', 'metrics', 'services'] })
})

test('stream rejection shows the login page', async ({ page }) => {
  const routes: WebSocketRoute[] = []
  await page.routeWebSocket(/\/api\/v1\/stream$/, (route) => {
    routes.push(route)
    route.connectToServer()
  })
  await signIn(page)
  await expect(page.getByTestId('connection-status')).toHaveText('Live')

  // A cookie the server does not know, as after a server-side sign-out;
  // the reconnect gets close code 4401 and the session check then a 401.
  const { url } = e2eServer()
  await page.context().addCookies([{ name: 'blackhole_session', value: 'not-a-session', url }])
  await routes[0]!.close({ code: 4000, reason: 'dropped by the test' })
  await expect(page.getByLabel('User name')).toBeVisible()
  await expect(page.getByRole('status')).toHaveText(signedOutMessage('invalid or expired session; sign in again'))
  expect(routes).toHaveLength(2)
})

test('a 401 after sign-in signs out', async ({ page }) => {
  await signIn(page)
  await expect(serviceState(page, 'storage')).toHaveText('running')
  await openService(page, 'storage')
  await page.route('**/api/v1/**', (route) =>
    route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer not-the-token' } }),
  )

  await confirmAction(page, 'Isolate', 'storage')
  await expect(page.getByLabel('User name')).toBeVisible()
  await expect(page.getByRole('status')).toHaveText(signedOutMessage('invalid or revoked token'))
  expect(await webStorage(page)).toEqual([])
})

test('paused feed holds new events', async ({ page, request }) => {
  await signIn(page)
  await expect(page.getByTestId('connection-status')).toHaveText('Live')
  await expect(page.getByTestId('event-row').first()).toBeVisible()
  await expect(serviceState(page, 'storage')).toHaveText('running')

  await page.getByRole('button', { name: 'Pause' }).click()
  const resumeFeed = page.getByRole('button', { name: 'Resume feed' })
  await expect(resumeFeed).toHaveAttribute('aria-pressed', 'true')
  const before = await newestSeq(request)
  await postAction(request, 'storage', 'isolate')
  await postAction(request, 'storage', 'resume')

  await expect(page.getByText(/^Paused, [1-9]\d* new$/)).toBeVisible()
  expect(await newestSeqShown(page)).toBeLessThanOrEqual(before)
  // The services table stays live while the feed is paused.
  await expect(serviceState(page, 'storage')).toHaveText('running')

  await resumeFeed.click()
  await expectNewEvent(page, 'SERVICE_ISOLATED', 'storage', before)
  await expectNewEvent(page, 'SERVICE_RESUMED', 'storage', before)
})

test('isolate and resume storage', async ({ page, request }) => {
  await signIn(page)
  await expect(serviceState(page, 'storage')).toHaveText('running')
  // Only start and resume stay in the overview; the rest need the service page.
  await expect(serviceRow(page, 'storage').getByRole('button', { name: 'Isolate storage' })).toHaveCount(0)
  await expect(serviceRow(page, 'storage').getByRole('button', { name: 'Terminate storage' })).toHaveCount(0)
  const before = await newestSeq(request)
  await openService(page, 'storage')

  const isolate = page.getByRole('button', { name: 'Isolate storage' })
  await expect(isolate).toHaveClass(/button-warning/)
  await confirmAction(page, 'Isolate', 'storage')
  await expect(detailState(page, 'storage')).toHaveText('isolated')
  await expect(servicePanel(page, 'storage').getByTestId('action-result')).toContainText('Isolated: now isolated')
  await expect(servicePanel(page, 'storage').getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_ISOLATED by token:admin/)

  await confirmAction(page, 'Resume', 'storage')
  await expect(detailState(page, 'storage')).toHaveText('running')
  await expect(servicePanel(page, 'storage').getByTestId('action-result')).toContainText('Resumed: now running')
  await expect(servicePanel(page, 'storage').getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_RESUMED by token:admin/)

  await page.getByRole('link', { name: 'Overview' }).click()
  await expectNewEvent(page, 'SERVICE_ISOLATED', 'storage', before)
  await expectNewEvent(page, 'SERVICE_RESUMED', 'storage', before)
})

test('action shows the API error', async ({ page, request }) => {
  const { url, token } = e2eServer()
  await signIn(page)
  await expect(serviceState(page, 'storage')).toHaveText('running')
  await openService(page, 'storage')

  // Isolate through the API while the dialog is open, so the dashboard's
  // own request meets a state conflict on the real server.
  await page.getByRole('button', { name: 'Isolate storage' }).click()
  const dialog = page.getByRole('dialog', { name: 'Isolate storage?' })
  await expect(dialog).toBeVisible()
  await postAction(request, 'storage', 'isolate')
  await expect(detailState(page, 'storage')).toHaveText('isolated')
  await dialog.getByRole('button', { name: 'Isolate', exact: true }).click()

  const conflict = await request.post(`${url}/api/v1/services/storage/isolate`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(conflict.status()).toBe(409)
  const body = (await conflict.json()) as { error: string; message: string }
  expect(body.error).toBe('INVALID_STATE')
  await expect(servicePanel(page, 'storage').getByTestId('action-result')).toHaveText(body.message)

  await confirmAction(page, 'Resume', 'storage')
  await expect(detailState(page, 'storage')).toHaveText('running')
})

test('terminate and start identity', async ({ page, request }) => {
  await signIn(page)
  await expect(serviceState(page, 'identity')).toHaveText('running')
  const before = await newestSeq(request)
  await openService(page, 'identity')

  await page.getByRole('button', { name: 'Terminate identity' }).click()
  const dialog = page.getByRole('dialog', { name: 'Terminate identity?' })
  const confirm = dialog.getByRole('button', { name: 'Terminate', exact: true })
  const nameField = dialog.getByLabel('Type identity to confirm')
  await expect(confirm).toBeDisabled()
  await nameField.fill('identit')
  await expect(confirm).toBeDisabled()
  await nameField.fill('identity')
  await expect(confirm).toBeEnabled()
  await confirm.click()

  await expect(detailState(page, 'identity')).toHaveText('stopped')
  await expect(servicePanel(page, 'identity').getByTestId('action-result')).toContainText('Terminated: now stopped')
  await expect(servicePanel(page, 'identity').getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_TERMINATED by token:admin/)
  await expect(servicePanel(page, 'identity').getByRole('button', { name: 'Terminate identity' })).toHaveCount(0)

  await page.getByRole('link', { name: 'Overview' }).click()
  await expectNewEvent(page, 'SERVICE_TERMINATED', 'identity', before)
  await expectNewEvent(page, 'SERVICE_EXITED', 'identity', before)
  // The other service is untouched.
  await expect(serviceState(page, 'storage')).toHaveText('running')

  const beforeStart = await newestSeq(request)
  await confirmAction(page, 'Start', 'identity')
  await expect(serviceState(page, 'identity')).toHaveText('running')
  await expectNewEvent(page, 'SERVICE_STARTED', 'identity', beforeStart)
})
