import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { e2eServer, type E2eAccount } from './server.js'
import { signInThroughApi, signInThroughForm } from './signIn.js'

// Roles and browser sessions against the real server. This file runs
// first (files run in name order), before the other files' failed
// sign-ins can rate-limit the password login tested here.

const shotsDir = process.env.SESSION_SHOTS_DIR ?? '/tmp/session-shots'

function account(role: 'viewer' | 'operator'): E2eAccount {
  const accounts = e2eServer().accounts
  if (accounts === null) throw new Error('global setup created no accounts; see e2e/global-setup.ts')
  return accounts[role]
}

function servicePanel(page: Page, name: string) {
  return page.locator(`section[data-service="${name}"]`)
}

interface ForcedResponse {
  status: number
  error: string | null
}

/**
 * Sends a write from the page with the session cookie and its CSRF token,
 * as a user bypassing the dashboard's hidden buttons would.
 */
async function forceWrite(page: Page, method: string, path: string, body?: unknown): Promise<ForcedResponse> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const session = (await (await fetch('/api/v1/auth/session')).json()) as { csrfToken: string }
      const headers: Record<string, string> = { 'x-csrf-token': session.csrfToken }
      if (body !== undefined) headers['content-type'] = 'application/json'
      const response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
      const parsed = (await response.json()) as { error?: string }
      return { status: response.status, error: parsed.error ?? null }
    },
    { method, path, body },
  )
}

// A failed test must not leave storage isolated for the tests after it.
test.afterEach(async ({ request }) => {
  const { url, token } = e2eServer()
  const headers = { authorization: `Bearer ${token}` }
  const response = await request.get(`${url}/api/v1/services/storage`, { headers })
  const service = (await response.json()) as { state: string }
  if (service.state !== 'isolated') return
  const resumed = await request.post(`${url}/api/v1/services/storage/resume`, { headers })
  expect(resumed.status(), await resumed.text()).toBe(200)
})

test('login page screenshot', async ({ page }) => {
  mkdirSync(shotsDir, { recursive: true })
  await page.goto(e2eServer().url)
  await expect(page.getByLabel('User name')).toBeVisible()
  await expect(page.getByLabel('Password')).toBeVisible()
  await expect(page.getByRole('radio', { name: 'User account' })).toBeChecked()
  await page.screenshot({ path: join(shotsDir, 'login.png'), fullPage: true })
  await page.getByRole('radio', { name: 'Token' }).check()
  await expect(page.getByLabel('API token')).toBeVisible()
  await expect(page.getByLabel('User name')).toHaveCount(0)
})

test('operator isolates but cannot save', async ({ page }) => {
  const operator = account('operator')
  await signInThroughForm(page, { name: operator.name, password: operator.password }, '#/services/storage')
  await expect(page.getByTestId('account-user')).toHaveText(operator.name)
  await expect(page.getByTestId('account-role')).toHaveText('operator')

  const panel = servicePanel(page, 'storage')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')
  await page.getByRole('button', { name: 'Isolate storage' }).click()
  const isolateDialog = page.getByRole('dialog', { name: 'Isolate storage?' })
  await isolateDialog.getByRole('button', { name: 'Isolate', exact: true }).click()
  await expect(panel.getByTestId('state-badge')).toHaveText('isolated')
  await expect(panel.getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_ISOLATED by user:e2e-operator$/)

  await page.getByRole('button', { name: 'Resume storage' }).click()
  await page.getByRole('dialog', { name: 'Resume storage?' }).getByRole('button', { name: 'Resume', exact: true }).click()
  await expect(panel.getByTestId('state-badge')).toHaveText('running')
  await expect(panel.getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_RESUMED by user:e2e-operator$/)

  await page.goto(`${e2eServer().url}/#/profiles/identity`)
  const editor = page.getByLabel('YAML of profile identity')
  await expect(editor).toHaveValue(/identity:/)
  await editor.press('End')
  await editor.pressSequentially('\n# edited by the operator')
  await expect(page.getByTestId('validation-state')).toHaveText(/^Valid, score/)
  const save = page.getByRole('button', { name: 'Save as new version' })
  await expect(save).toBeDisabled()
  await expect(save).toHaveAttribute('title', 'Saving a profile needs the admin role')

  const yaml = await editor.inputValue()
  const forced = await forceWrite(page, 'PUT', '/profiles/identity', { yaml })
  expect(forced.status).toBe(403)
  expect(forced.error).toBe('FORBIDDEN')
})

test('viewer sees no write controls', async ({ page }) => {
  const viewer = account('viewer')
  await signInThroughForm(page, { token: viewer.token })
  await expect(page.getByTestId('account-user')).toHaveText(`${viewer.name}-token`)
  await expect(page.getByTestId('account-role')).toHaveText('viewer')

  const row = page.locator('tr[data-service="storage"]')
  await expect(row.getByTestId('state-badge')).toHaveText('running')
  await expect(row.getByRole('button')).toHaveCount(0)

  await row.getByRole('link', { name: 'storage', exact: true }).click()
  const panel = servicePanel(page, 'storage')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')
  await expect(page.getByTestId('read-only-note')).toHaveText('Read only: service actions need the operator role.')
  await expect(panel.getByRole('button')).toHaveCount(0)
  await expect(page.getByTestId('process-tree')).toContainText('kv-store')
  mkdirSync(shotsDir, { recursive: true })
  await page.screenshot({ path: join(shotsDir, 'viewer-service.png'), fullPage: true })

  const forced = await forceWrite(page, 'POST', '/services/storage/isolate')
  expect(forced.status).toBe(403)
  expect(forced.error).toBe('FORBIDDEN')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')

  await page.goto(`${e2eServer().url}/#/profiles/identity`)
  const editor = page.getByLabel('YAML of profile identity')
  await expect(editor).toHaveValue(/identity:/)
  await expect(editor).toHaveAttribute('readonly', '')
  await expect(page.getByRole('button', { name: 'Save as new version' })).toBeDisabled()

  await page.getByRole('link', { name: 'Audit' }).click()
  await expect(page.getByRole('button', { name: 'Verify chain' })).toBeDisabled()
  await expect(page.getByRole('button', { name: 'Download checkpoints' })).toBeEnabled()
})

test('stale CSRF token is retried once', async ({ page }) => {
  await signInThroughApi(page, undefined, '#/services/storage')
  const panel = servicePanel(page, 'storage')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')

  // The first write goes out with a wrong X-CSRF-Token; the dashboard
  // must read the session again and send the request once more.
  const sent: (string | null)[] = []
  const sessionReads: string[] = []
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/v1/auth/session') sessionReads.push(request.method())
  })
  await page.route('**/api/v1/services/storage/*', async (route) => {
    const request = route.request()
    if (request.method() !== 'POST') return route.continue()
    sent.push(await request.headerValue('x-csrf-token'))
    if (sent.length > 1) return route.continue()
    return route.continue({ headers: { ...request.headers(), 'x-csrf-token': 'stale' } })
  })
  await page.getByRole('button', { name: 'Isolate storage' }).click()
  await page.getByRole('dialog', { name: 'Isolate storage?' }).getByRole('button', { name: 'Isolate', exact: true }).click()
  await expect(panel.getByTestId('state-badge')).toHaveText('isolated')
  await expect(panel.getByTestId('action-record')).toHaveText(/SERVICE_ISOLATED by token:admin$/)
  expect(sent).toHaveLength(2)
  expect(sent[1]).toBe(sent[0])
  expect(sessionReads).toEqual(['GET'])

  await page.unroute('**/api/v1/services/storage/*')
  await page.getByRole('button', { name: 'Resume storage' }).click()
  await page.getByRole('dialog', { name: 'Resume storage?' }).getByRole('button', { name: 'Resume', exact: true }).click()
  await expect(panel.getByTestId('state-badge')).toHaveText('running')
})

test('idle tab renews its session', async ({ page }) => {
  const renewals: string[] = []
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/v1/auth/session') renewals.push(`${response.status()}`)
  })
  // A fake clock lets the test reach the renewal, 5 minutes before the
  // server's 12-hour expiry, without waiting for it.
  await page.clock.install()
  await signInThroughApi(page)
  await expect(page.getByTestId('connection-status')).toHaveText('Live')
  await expect.poll(() => renewals).toEqual(['200'])

  await page.clock.fastForward('11:50:00')
  await expect.poll(() => renewals.length).toBe(1)
  await page.clock.fastForward('00:06:00')
  await expect.poll(() => renewals).toEqual(['200', '200'])
  await expect(page.getByTestId('account-role')).toHaveText('admin')
})
