/**
 * The admin web UI (issue 22) in a real browser: Playwright (playwright-core) driving Debian's Chromium
 * against a real gateway with the request log on SQLite and the stand-in upstream. Sign in, create a
 * key and copy it, use it, find the request in the log and the overview's chart, revoke it and see the
 * next request refused; a viewer can change nothing; a wrong token, an expired session and a change
 * without the CSRF token are refused. A screenshot of each page goes to docs/images/ui-*.png (or
 * UI_SCREENSHOT_DIR), shown in docs/ui.md and the README.
 *
 * Skipped, with the reason, when Chromium is not installed (`apt-get install chromium`), unless CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import { requireTool } from '../support/system-tool.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_TOKEN = 'admin-token-for-the-ui-browser-test';
const VIEWER_TOKEN = 'viewer-token-for-the-ui-browser-test';
const root = new URL('../../', import.meta.url).pathname;
const screenshots = process.env['UI_SCREENSHOT_DIR'] ?? join(root, 'docs', 'images');
const skip = requireTool(CHROMIUM, 'chromium');

type Json = Record<string, unknown>;

/** The newest modification time under a folder. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** dist/web-ui as npm ci builds it; built again when ui/ changed since (a test run alone). */
function ensureUiBuilt(): void {
  const index = join(root, 'dist', 'web-ui', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(root, 'ui'))) return;
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'ui/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

function gatewayConfig(upstream: string, extra: Json = {}): Json {
  return testConfig({
    backends: [
      { name: 'vllm', type: 'openai', url: `${upstream}/v1` },
      { name: 'demo', type: 'demo' },
    ],
    models: [
      { name: 'stand-in-*', targets: [{ backend: 'vllm' }] },
      { name: 'demo', targets: [{ backend: 'demo' }] },
    ],
    extra: {
      auth: {
        admin_token_sha256: sha256Hex(ADMIN_TOKEN),
        viewer_token_sha256: sha256Hex(VIEWER_TOKEN),
        keys: [{ id: 'test-key', sha256: sha256Hex(TEST_KEY) }],
      },
      cache: { enabled: true },
      teams: [
        {
          id: 'research',
          name: 'Research',
          budgets: [
            { usd: 1, window: 'day' },
            { tokens: 100000, window: 'month' },
          ],
        },
      ],
      usage: { prices: [{ model: 'stand-in-*', prompt_per_million: 2000, completion_per_million: 6000 }] },
      request_log: { enabled: true, batch: { interval_ms: 20 } },
      ...extra,
    },
  });
}

let chats = 0;

/** A chat request; each a new prompt unless one is given (a repeated one is a cache hit). */
async function chat(
  base: string,
  key: string,
  content = `Hello from the UI test (${String(++chats)})`,
): Promise<{ status: number; requestId: string }> {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'user-agent': 'ui-e2e/1.0',
    },
    body: JSON.stringify({
      model: 'stand-in-chat',
      max_tokens: 16,
      messages: [{ role: 'user', content }],
    }),
  });
  await response.arrayBuffer();
  return { status: response.status, requestId: response.headers.get('x-request-id') ?? '' };
}

/** Polls until `check` holds (each poll is a real request; no fixed sleep stands in for a condition). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function launch(base: string): Promise<{ context: BrowserContext; page: Page; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'gw-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    timeout: 60_000,
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  return { context, page, profile };
}

async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `ui-${name}.png`) });
}

/** A call from the page itself (its cookie, its origin), with or without the CSRF token. */
async function pageFetch(
  page: Page,
  method: string,
  path: string,
  body: unknown,
  csrf: string | null,
): Promise<number> {
  return page.evaluate(
    async ({ method, path, body, csrf }) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (csrf !== null) headers['x-csrf-token'] = csrf;
      const response = await fetch(path, { method, headers, body: JSON.stringify(body) });
      return response.status;
    },
    { method, path, body, csrf },
  );
}

async function csrfOf(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const response = await fetch('/ui/api/session');
    return ((await response.json()) as { csrf_token: string }).csrf_token;
  });
}

describe('the admin web UI in a real browser', { skip }, () => {
  const upstream = new StandInUpstream();
  let running: RunningGateway;
  let base: string;
  let browser: { context: BrowserContext; page: Page; profile: string };
  let page: Page;
  let newKey = '';
  let newKeyId = '';
  /** What the page logged as errors (a CSP violation among them) and every URL it asked for. */
  const consoleErrors: string[] = [];
  const requested: string[] = [];

  before(async () => {
    ensureUiBuilt();
    const upstreamUrl = await upstream.start();
    running = await startGateway(gatewayConfig(upstreamUrl));
    base = running.url;
    browser = await launch(base);
    page = browser.page;
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('request', (request) => requested.push(request.url()));
  });

  after(async () => {
    await browser?.context.close();
    if (browser !== undefined) rmSync(browser.profile, { recursive: true, force: true });
    await running?.stop();
    await upstream.stop();
  });

  it('refuses a wrong token at sign-in, with no cookie', async () => {
    await signIn(page, base, 'not-the-admin-token');
    await page.getByRole('alert').filter({ hasText: 'Invalid admin token' }).waitFor();
    assert.equal((await browser.context.cookies(base)).length, 0);
    await screenshot(page, 'sign-in');
  });

  it('signs in with the admin token: an HttpOnly cookie, and the token in no page storage', async () => {
    await page.getByLabel('Token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const [cookie] = await browser.context.cookies(base);
    assert.equal(cookie?.name, 'gw_ui_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok((cookie?.expires ?? 0) > Date.now() / 1000);
    // Expressions run in the page (this file is type-checked without the DOM's types).
    const storage = await page.evaluate<string>(
      'JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }, location.href])',
    );
    assert.ok(!storage.includes(ADMIN_TOKEN), storage);
    assert.ok(!storage.includes('gw_ui_session'), 'the session cookie is not readable by the page');
  });

  it('creates a key in a team, shows it once and copies it', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a key' });
    await dialog.getByLabel('Name', { exact: true }).fill('ui-e2e');
    await dialog.getByLabel('Team (id)').fill('research');
    await dialog.getByLabel('Models (empty: all)').fill('stand-in-*');
    await dialog.getByLabel('Requests limit').fill('600/minute');
    await dialog.getByLabel('Budgets, one per line').fill('0.5 usd/day');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByTestId('new-key');
    await shown.waitFor();
    newKey = (await shown.textContent())?.trim() ?? '';
    assert.match(newKey, /^sk-gw-/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied', { exact: true }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), newKey);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('complementary', { name: 'Key ui-e2e' }).waitFor();
    newKeyId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    assert.match(newKeyId, /\S/);
  });

  it('shows the request made with the key in the request log, with its detail', async () => {
    const answer = await chat(base, newKey);
    assert.equal(answer.status, 200);
    // Records are written in batches (request_log.batch.interval_ms): wait until this one is stored.
    await waitFor('the request record', async () => {
      const response = await fetch(`${base}/admin/requests/${answer.requestId}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      await response.arrayBuffer();
      return response.status === 200;
    });
    await page.getByRole('link', { name: 'Request log' }).click();
    const row = page.locator(`tr[data-request-id="${answer.requestId}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /stand-in-chat/);
    await row.click();
    const detail = page.getByRole('complementary', { name: `Request ${answer.requestId}` });
    await detail.getByRole('table', { name: 'Attempts' }).waitFor();
    assert.match((await detail.textContent()) ?? '', /ui-e2e\/1\.0/);
    await screenshot(page, 'requests');
  });

  it('adds new requests at the top while the live tail is on', async () => {
    await page.getByRole('button', { name: "Close the request's details" }).click();
    await page.getByRole('switch', { name: 'Live tail' }).check();
    await page.getByText('Live tail (on)').waitFor();
    const answer = await chat(base, newKey);
    assert.equal(answer.status, 200);
    await page.locator(`tbody tr[data-request-id="${answer.requestId}"]`).waitFor();
    const first = await page.locator('tbody tr').first().getAttribute('data-request-id');
    assert.equal(first, answer.requestId);
    await page.getByRole('switch', { name: 'Live tail' }).uncheck();
  });

  it('charts the requests on the overview, by key', async () => {
    // More traffic from another key: new prompts, a repeated one (a cache hit) and an upstream failure.
    for (let request = 0; request < 3; request++) assert.equal((await chat(base, TEST_KEY)).status, 200);
    assert.equal((await chat(base, TEST_KEY, 'Hello again')).status, 200);
    assert.equal((await chat(base, TEST_KEY, 'Hello again')).status, 200);
    upstream.once({ kind: 'status', status: 500 });
    assert.equal((await chat(base, TEST_KEY)).status, 502);
    await page.getByRole('link', { name: 'Overview' }).click();
    const tile = page.locator('[data-tile="Requests"] .value');
    await waitFor('the overview to count the requests', async () => {
      if (Number((await tile.textContent()) ?? '0') >= 8) return true;
      await page.getByRole('button', { name: 'Refresh the charts' }).click();
      return false;
    });
    const chart = page.locator('[data-chart="Requests per second"]');
    assert.ok(Number(await chart.getAttribute('data-points')) >= 1, 'a point on the requests chart');
    await chart.locator('canvas').first().waitFor(); // uPlot drew it
    await page.getByLabel('Group charts by').selectOption('key');
    const legend = page.getByRole('region', { name: 'Requests per second' }).locator('.legend');
    await legend.getByText('test-key').waitFor();
    await legend.getByText(newKeyId).waitFor();
    await screenshot(page, 'overview');
  });

  it('shows the team budgets, backends and config pages', async () => {
    await page.getByRole('link', { name: 'Teams & budgets' }).click();
    const team = page.getByRole('region', { name: 'Team Research' });
    await team.getByRole('meter').first().waitFor();
    assert.equal(await team.getByRole('meter').count(), 2);
    await screenshot(page, 'teams');
    await page.getByRole('link', { name: 'Backends' }).click();
    await page.locator('tr[data-backend="vllm"]').waitFor();
    await page.locator('tr[data-backend="demo"]').waitFor();
    await screenshot(page, 'backends');
    await page.getByRole('link', { name: 'Config' }).click();
    const config = page.getByLabel('Effective config');
    await waitFor('the config', async () => ((await config.textContent()) ?? '').includes('"request_log"'));
    const text = (await config.textContent()) ?? '';
    assert.ok(!text.includes(sha256Hex(ADMIN_TOKEN)), 'the admin token hash is masked');
    assert.ok(text.includes('********'));
    await screenshot(page, 'config');
  });

  it("shows a key's usage and spend, then revokes it: the next request is refused", async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.locator(`tr[data-key-id="${newKeyId}"]`).click();
    const detail = page.getByRole('complementary', { name: 'Key ui-e2e' });
    const usage = detail.getByTestId('key-usage');
    await waitFor('the key usage', async () => /Requests\s*2/.test((await usage.textContent()) ?? ''));
    await detail.getByRole('meter').first().waitFor();
    await screenshot(page, 'keys');
    await detail.getByRole('button', { name: 'Revoke' }).click();
    await page
      .getByRole('dialog', { name: 'Revoke ui-e2e?' })
      .getByRole('button', { name: 'Revoke the key' })
      .click();
    await page.locator(`tr[data-key-id="${newKeyId}"] .badge.revoked`).waitFor();
    const refused = await chat(base, newKey);
    assert.equal(refused.status, 401);
  });

  it('refuses a change made with the session cookie but without the CSRF token (403)', async () => {
    assert.equal(await pageFetch(page, 'POST', '/admin/keys', { name: 'no-csrf' }, null), 403);
    assert.equal(
      await pageFetch(page, 'POST', '/admin/keys', { name: 'with-csrf' }, await csrfOf(page)),
      201,
    );
  });

  it('switches to the dark theme and fits a phone', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('button', { name: /Switch theme/ }).click();
    assert.equal(await page.evaluate<string>('document.documentElement.dataset.theme'), 'dark');
    await page.locator('[data-chart="Requests per second"] canvas').first().waitFor();
    await screenshot(page, 'overview-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `the page is ${String(overflow)} px wider than a phone`);
    await screenshot(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: /Switch theme/ }).click();
  });

  it('fetched nothing from another origin, and broke no rule of its Content-Security-Policy', () => {
    const origin = new URL(base).origin;
    const elsewhere = requested.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
    assert.deepEqual(elsewhere, []);
    assert.ok(
      requested.some((url) => url.includes('/ui/assets/')),
      'the hashed assets were loaded',
    );
    const violations = consoleErrors.filter((text) => /Content Security Policy|Refused to/i.test(text));
    assert.deepEqual(violations, []);
  });

  it('lets a viewer see everything and change nothing, in the UI and the API', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    assert.equal((await browser.context.cookies(base)).length, 0);
    await page.getByLabel('Token').fill(VIEWER_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('viewer (read-only)').waitFor();
    await page.getByRole('link', { name: 'Keys' }).click();
    const row = page.locator('tr[data-key-id]').filter({ hasText: 'with-csrf' });
    await row.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create key' }).count(), 0);
    await row.click();
    await page.getByRole('complementary').getByTestId('key-usage').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Edit' }).count(), 0);
    await page.getByRole('link', { name: 'Config' }).click();
    await page.getByLabel('Effective config').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reload the config file' }).count(), 0);
    const csrf = await csrfOf(page);
    assert.equal(await pageFetch(page, 'POST', '/admin/keys', { name: 'viewer-made' }, csrf), 403);
    assert.equal(
      await pageFetch(page, 'DELETE', `/admin/keys/${encodeURIComponent(newKeyId)}`, {}, csrf),
      403,
    );
    const api = await fetch(`${base}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'viewer-made' }),
    });
    assert.equal(api.status, 403);
    assert.equal(((await api.json()) as Json)['status'], 403);
  });
});

describe('the admin web UI: an expired session', { skip }, () => {
  it('sends the page back to the sign-in once the session has expired', async () => {
    ensureUiBuilt();
    const upstream = new StandInUpstream();
    const running = await startGateway(
      gatewayConfig(await upstream.start(), { ui: { session_ttl_ms: 1500 } }),
    );
    const browser = await launch(running.url);
    try {
      await signIn(browser.page, running.url, ADMIN_TOKEN);
      await browser.page.getByRole('heading', { name: 'Overview' }).waitFor();
      await waitFor('the session to expire', async () => {
        const status = await browser.page.evaluate(async () => (await fetch('/admin/keys')).status);
        return status === 401;
      });
      await browser.page.getByRole('link', { name: 'Keys' }).click();
      await browser.page.getByText('Your session has ended; sign in again.').waitFor();
      await browser.page.getByLabel('Token').waitFor();
    } finally {
      await browser.context.close();
      rmSync(browser.profile, { recursive: true, force: true });
      await running.stop();
      await upstream.stop();
    }
  });
});
