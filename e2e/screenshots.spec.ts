import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { e2eServer } from './server.js'
import { signInThroughApi } from './signIn.js'

// Screenshots of every page for a look at the layout with real data. They
// go to CONSOLE_SHOTS_DIR when set, else to this test's output folder.

const pages: { name: string; hash: string; ready: (page: Page) => Promise<void> }[] = [
  {
    name: 'overview',
    hash: '#/',
    ready: (page) => expect(page.locator('tr[data-service="storage"] td[data-label="Memory"] polyline')).toHaveAttribute('points', /\S+ \S+/),
  },
  { name: 'service', hash: '#/services/storage', ready: (page) => expect(page.getByTestId('process-tree')).toContainText('kv-store') },
  { name: 'profiles', hash: '#/profiles/identity', ready: (page) => expect(page.getByLabel('YAML of profile identity')).toHaveValue(/identity:/) },
  { name: 'events', hash: '#/events', ready: (page) => expect(page.getByTestId('filtered-event-row').first()).toBeVisible() },
  { name: 'incidents', hash: '#/incidents', ready: (page) => expect(page.getByRole('heading', { name: 'Incidents' })).toBeVisible() },
  { name: 'audit', hash: '#/audit', ready: (page) => expect(page.getByTestId('last-checkpoint')).toBeVisible() },
]

test('screenshots of each page', async ({ page }) => {
  const folder = process.env.CONSOLE_SHOTS_DIR ?? test.info().outputPath('shots')
  mkdirSync(folder, { recursive: true })
  const { url } = e2eServer()
  await signInThroughApi(page)
  for (const theme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: theme })
    for (const width of [1280, 420]) {
      await page.setViewportSize({ width, height: 900 })
      for (const entry of pages) {
        await page.goto(`${url}/${entry.hash}`)
        await entry.ready(page)
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        expect(overflow, `${entry.name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0)
        await page.screenshot({ path: join(folder, `${entry.name}-${width}-${theme}.png`), fullPage: true })
      }
    }
  }
})
