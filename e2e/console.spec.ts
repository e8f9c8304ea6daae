import { readFileSync } from 'node:fs'
import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { e2eServer } from './server.js'
import { signInThroughApi } from './signIn.js'

// The console's pages against the real server that global-setup.ts starts.
// Each test returns the services to running, as dashboard.spec.ts expects.

/** Signs in as admin and opens the page at `hash`. */
async function signIn(page: Page, hash = ''): Promise<void> {
  await signInThroughApi(page, undefined, hash)
}

function api(request: APIRequestContext) {
  const { url, token } = e2eServer()
  const headers = { authorization: `Bearer ${token}` }
  return {
    get: (path: string) => request.get(`${url}/api/v1${path}`, { headers }),
    post: (path: string) => request.post(`${url}/api/v1${path}`, { headers }),
    put: (path: string, data: unknown) => request.put(`${url}/api/v1${path}`, { headers, data }),
  }
}

function servicePanel(page: Page, name: string) {
  return page.locator(`section[data-service="${name}"]`)
}

test('overview shows both services', async ({ page }) => {
  await signIn(page)
  for (const name of ['identity', 'storage']) {
    const row = page.locator(`tr[data-service="${name}"]`)
    await expect(row.getByTestId('state-badge')).toHaveText('running')
    await expect(row.getByRole('link', { name, exact: true })).toHaveAttribute('href', `#/services/${name}`)
  }
  await expect(page.getByRole('heading', { name: 'Open incidents' })).toBeVisible()
  await expect(page.getByRole('img', { name: /^Events per minute over the last hour: \d+ in total$/ })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page')
})

test('service page shows live detail', async ({ page }) => {
  await signIn(page, '#/services/storage')
  const panel = servicePanel(page, 'storage')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')

  const cpu = page.getByTestId('line-chart').filter({ hasText: 'CPU' })
  await expect(cpu.locator('polyline')).toHaveAttribute('points', /\S+ \S+/)
  const memory = page.getByTestId('line-chart').filter({ hasText: 'Memory' })
  await expect(memory.locator('polyline')).toHaveAttribute('points', /\S+ \S+/)
  await expect(memory.locator('strong')).toHaveText(/\d (B|KiB|MiB|GiB)/)

  await expect(page.getByTestId('process-tree')).toContainText('kv-store.mjs')
  await expect(page.getByRole('heading', { name: 'Network' })).toBeVisible()
  await expect(page.getByRole('cell', { name: '127.0.0.1:50002' })).toBeVisible()
  await expect(page.getByTestId('log-tail')).toBeVisible()
  await expect(page.getByTestId('score-value')).toHaveText(/^\d+\.\d$/)
})

test('block asks for the typed name', async ({ page }) => {
  await signIn(page, '#/services/storage')
  const panel = servicePanel(page, 'storage')
  await expect(panel.getByTestId('state-badge')).toHaveText('running')

  await page.getByRole('button', { name: 'Block storage' }).click()
  const dialog = page.getByRole('dialog', { name: 'Block network of storage?' })
  const confirm = dialog.getByRole('button', { name: 'Block', exact: true })
  await expect(confirm).toBeDisabled()
  await dialog.getByLabel('Type storage to confirm').fill('storage')
  await confirm.click()
  await expect(panel.getByText('network cut', { exact: true })).toBeVisible()
  await expect(panel.getByTestId('action-record')).toHaveText(/Audit record #\d+: SERVICE_BLOCKED by token:admin/)

  await page.getByRole('button', { name: 'Unblock storage' }).click()
  await page.getByRole('dialog', { name: 'Unblock network of storage?' }).getByRole('button', { name: 'Unblock', exact: true }).click()
  await expect(panel.getByText('network cut', { exact: true })).toHaveCount(0)
  await expect(panel.getByTestId('action-record')).toHaveText(/SERVICE_UNBLOCKED/)
})

test('profile edit shows errors, then saves', async ({ page, request }) => {
  const before = (await (await api(request).get('/profiles/identity/versions')).json()) as { currentVersion: number }
  await signIn(page, '#/profiles/identity')
  const editor = page.getByLabel('YAML of profile identity')
  await expect(editor).toHaveValue(/^identity:\n/)
  const original = await editor.inputValue()
  const lines = original.split('\n')
  const index = lines.findIndex((line) => line.includes('max_processes: 100'))
  expect(index).toBeGreaterThan(0)

  await editor.fill(original.replace('max_processes: 100', 'max_processes: lots'))
  const errors = page.getByTestId('editor-errors')
  await expect(errors).toContainText(`Line ${index + 1}`)
  await expect(errors).toContainText('max_processes')
  await expect(page.locator(`.gutter-error[data-line="${index + 1}"]`)).toBeVisible()
  await expect(page.getByRole('button', { name: 'Save as new version' })).toBeDisabled()

  await editor.fill(original.replace('max_processes: 100', 'max_processes: 90'))
  await expect(page.getByTestId('validation-state')).toHaveText(/^Valid, score \d+\.\d$/)
  await expect(page.locator('.gutter-error')).toHaveCount(0)
  await page.getByRole('button', { name: 'Save as new version' }).click()
  const version = before.currentVersion + 1
  await expect(page.getByTestId('save-result').locator('.success')).toHaveText(
    `stored version ${version}; running services keep their current profile until restarted: identity`,
  )
  await expect(page.getByTestId('save-result').locator('.save-note')).toContainText('Config file unchanged')
  await expect(page.getByTestId('version-list')).toContainText(`v${version} (current)`)
  await expect(page.getByTestId('version-list')).toContainText('token:admin')

  const diff = page.getByTestId('profile-diff')
  await expect(diff.locator('.diff-removed')).toHaveText(/max_processes: 100/)
  await expect(diff.locator('.diff-added')).toHaveText(/max_processes: 90/)
})

test('profile export shows warnings', async ({ page }) => {
  await signIn(page, '#/profiles/storage')
  await page.getByLabel('Format').selectOption('apparmor')
  await expect(page.getByRole('list', { name: 'Export warnings' })).toContainText(/\S/)
  await expect(page.getByRole('button', { name: /^Download .+/ })).toBeEnabled()
})

test('event filter by type narrows the table', async ({ page }) => {
  await signIn(page, '#/events')
  const rows = page.getByTestId('filtered-event-row')
  await expect(rows.first()).toBeVisible()
  const typesShown = () => rows.locator('.event-type').allTextContents()
  await expect.poll(async () => new Set(await typesShown()).size).toBeGreaterThan(1)

  await page.getByLabel('Type').fill('SERVICE_STARTED')
  await page.getByLabel('Type').press('Enter')
  await expect.poll(async () => [...new Set(await typesShown())]).toEqual(['SERVICE_STARTED'])
  await expect(rows.first()).toBeVisible()

  await page.getByLabel('Service').selectOption('storage')
  await expect.poll(async () => [...new Set(await rows.locator('[role="cell"]:nth-child(4)').allTextContents())]).toEqual(['storage'])

  const download = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Export CSV' }).click()
  const file = await download
  expect(file.suggestedFilename()).toMatch(/^blackhole-events-.+\.csv$/)
  const lines = readFileSync(await file.path(), 'utf8').trim().split('\r\n')
  expect(lines[0]).toBe('seq,time,service,pid,type,severity,description,actor,metadata,hash')
  expect(lines.length).toBeGreaterThan(1)
  for (const line of lines.slice(1)) expect(line).toMatch(/^\d+,[^,]+,storage,\d*,SERVICE_STARTED,/)
})

test('incident from a real rule is acknowledged', async ({ page, request }) => {
  const client = api(request)
  const rules = (await (await client.get('/rules')).json()) as { yaml: string }
  // A rule on SERVICE_BLOCKED of storage: blocking through the API is a cheap, real trigger.
  const extra = `
  - name: e2e-block-alert
    description: Storage had its network cut
    match:
      type: SERVICE_BLOCKED
      service: storage
    response: alert
    severity: medium
`
  const added = await client.put('/rules', { yaml: `${rules.yaml.trimEnd()}\n${extra}` })
  expect(added.status(), await added.text()).toBe(200)
  try {
    expect((await client.post('/services/storage/block')).status()).toBe(200)
    expect((await client.post('/services/storage/unblock')).status()).toBe(200)

    await signIn(page, '#/incidents')
    const row = page.locator('tr[data-incident]').filter({ hasText: 'e2e-block-alert' }).filter({ hasText: 'open' }).first()
    await expect(row).toBeVisible()
    await row.getByRole('link').click()
    const detail = page.getByTestId('incident-detail')
    await expect(detail.getByTestId('incident-status')).toHaveText('open')
    await expect(detail.getByTestId('incident-timeline')).toContainText('INCIDENT_OPENED')
    await detail.getByRole('button', { name: 'Acknowledge' }).click()
    await expect(detail.getByTestId('incident-status')).toHaveText('acknowledged')
    await expect(detail.getByTestId('incident-timeline')).toContainText('INCIDENT_ACKNOWLEDGED')
    await expect(detail.getByRole('button', { name: 'Acknowledge' })).toBeDisabled()
  } finally {
    await client.put('/rules', { yaml: rules.yaml })
    const status = (await (await client.get('/services/storage')).json()) as { blocked: boolean }
    if (status.blocked) await client.post('/services/storage/unblock')
  }
})

test('audit verify shows ok', async ({ page }) => {
  await signIn(page, '#/audit')
  await page.getByRole('button', { name: 'Verify chain' }).click()
  await expect(page.getByTestId('verify-result').locator('.success')).toHaveText(/^OK: \d+ records verified in \d+ ms\.$/)
  await expect(page.getByTestId('chain-status')).toHaveText('chain ok')
})
