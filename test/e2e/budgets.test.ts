/**
 * Budgets end to end (issue 20, docs/budgets.md): two gateway instances on one private redis-server, a
 * stand-in upstream whose usage is known in advance (metered-upstream.ts: the prompt as the gateway
 * counts it, exactly max_tokens of output), a local webhook receiver, and a budget clock the test moves
 * forward (clocked-gateway.ts). Each test uses keys of its own, so that no spending leaks between them.
 *
 * Prices: the model `metered` costs 2 USD per million prompt tokens and 10 per million completion
 * tokens, i.e. 2 and 10 micro-dollars per token, so every request's worst case and real cost are
 * integers known to the test.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { request } from 'undici';
import { sha256Hex } from '../../src/auth/api-key.js';
import type { BudgetStatus } from '../../src/budgets/ledger.js';
import { RedisBudgetLedger } from '../../src/budgets/redis-ledger.js';
import type { Budget } from '../../src/config/config.js';
import { countPromptTokens } from '../../src/rate-limit/token-estimate.js';
import { startClockedGateway, TestClock } from '../support/clocked-gateway.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { MeteredUpstream } from '../support/metered-upstream.js';
import { pooledSender, type Answer } from '../support/pooled-request.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const PROMPT_PER_TOKEN = 2;
const COMPLETION_PER_TOKEN = 10;
const ADMIN_TOKEN = 'admin-token-for-budget-tests';
const ALERT_SECRET = 'whsec-budget-alerts-e2e-0123456789abcdef';

/** A key's secret and its config entry. */
function apiKey(id: string): string {
  return `sk-gw-${id.replace(/[^a-z0-9]/g, '')}${'A'.repeat(40)}`.slice(0, 46);
}

function keyEntry(id: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { id, sha256: sha256Hex(apiKey(id)), ...fields };
}

/** Micro-dollars as the `usd` of a budget. */
function usd(micros: number): number {
  return micros / 1_000_000;
}

/** The prompt tokens the gateway counts (and the metered upstream reports) for one user message. */
function promptTokens(content: string): number {
  return countPromptTokens({ model: 'metered', messages: [{ role: 'user', content }] });
}

/** A request's cost in micro-dollars: its prompt and `completion` tokens at the test's prices. */
function costOf(content: string, completion: number): number {
  return promptTokens(content) * PROMPT_PER_TOKEN + completion * COMPLETION_PER_TOKEN;
}

const sender = pooledSender(20_000);
after(async () => {
  await sender.close();
});

function chat(base: string, keyId: string, body: Record<string, unknown>): Promise<Answer> {
  return sender.send(base, 'POST', '/v1/chat/completions', {
    token: apiKey(keyId),
    body: { model: 'metered', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100, ...body },
  });
}

/** Polls `probe` until `done` holds or `timeoutMs` passes; returns the last value either way. */
async function until<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** x-gateway-budget-remaining of a usd budget, in micro-dollars. */
function remainingMicros(answer: Answer): number {
  const header = answer.headers['x-gateway-budget-remaining'];
  assert.ok(header !== undefined, 'x-gateway-budget-remaining is missing');
  assert.match(header, /^\d+(\.\d{1,6})?$/);
  return Math.round(Number(header) * 1_000_000);
}

interface OpenAiError {
  error: { code: string; type: string; message: string };
}

/** Asserts a budget refusal in OpenAI's shape (CONTRACT.md "Errors"). */
function assertRefused(answer: Answer, message?: RegExp): OpenAiError['error'] {
  assert.equal(answer.status, 429, answer.text);
  const { error } = answer.json as OpenAiError;
  assert.equal(error.code, 'budget_exceeded');
  assert.equal(error.type, 'insufficient_quota');
  assert.equal(answer.headers['x-should-retry'], 'false');
  if (message !== undefined) assert.match(error.message, message);
  return error;
}

/** A local receiver of alert webhooks: every POST's headers and raw body. */
class WebhookReceiver {
  readonly received: { signature: string | undefined; raw: Buffer; body: Record<string, unknown> }[] = [];
  /** The next deliveries answered 503 (and not recorded), for the sender's retry. */
  failNext = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((incoming, response) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        if (receiver !== null && receiver.failNext > 0) {
          receiver.failNext--;
          response.writeHead(503).end();
          return;
        }
        const raw = Buffer.concat(chunks);
        const signature = incoming.headers['x-gateway-signature'];
        receiver?.received.push({
          signature: typeof signature === 'string' ? signature : undefined,
          raw,
          body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
        });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hooks/gw-token-in-path`);
    return receiver;
  }

  of(scope: string): WebhookReceiver['received'] {
    return this.received.filter((delivery) => delivery.body['scope'] === scope);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The signature as a receiver checks it: HMAC-SHA256 over the raw bytes, compared in constant time. */
function signatureValid(raw: Buffer, given: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', ALERT_SECRET).update(raw).digest('hex')}`);
  const actual = Buffer.from(given ?? '');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Seconds from `now` to the next UTC midnight, as Retry-After of a daily budget rounds them. */
function secondsToMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return Math.ceil((next.getTime() - now) / 1000);
}

function secondsToNextHour(now: number): number {
  const next = new Date(now);
  next.setUTCMinutes(60, 0, 0);
  return Math.ceil((next.getTime() - now) / 1000);
}

/** The key ids with budgets in these tests, and the budgets. */
const WORST = costOf('Hi', 100);
/** One key per round of the concurrent test, each with the BULK budget. */
const ROUNDS = ['bulk1', 'bulk2', 'bulk3'];
const BULK: Budget = { unit: 'usd', limit: 0.05, window: 'day', soft: false };
const STREAM: Budget = { unit: 'usd', limit: 0.01, window: 'day', soft: false };
/** A slow stream's prompt: the metered upstream waits 25 ms between tokens. */
const CANCELLED = 'delay:25';
const CANCEL_USD: Budget = { unit: 'usd', limit: 0.05, window: 'day', soft: false };
const CANCEL_TOKENS: Budget = { unit: 'tokens', limit: 100_000, window: 'day', soft: false };
const TEAM: Budget = { unit: 'usd', limit: usd(3 * WORST + WORST / 2), window: 'day', soft: false };
/** A key with a budget and a rate limit of one request a minute. */
const LIMITED: Budget = { unit: 'usd', limit: usd(10 * WORST), window: 'day', soft: false };
const SOFT: Budget = { unit: 'usd', limit: usd(2.5 * WORST), window: 'day', soft: true };
const ALERTED: Budget = { unit: 'usd', limit: usd(10 * WORST), window: 'day', soft: false };
const HOURLY: Budget = { unit: 'usd', limit: usd(2 * WORST), window: 'hour', soft: false };

function asConfig(budget: Budget): Record<string, unknown> {
  return { [budget.unit]: budget.limit, window: budget.window, ...(budget.soft ? { soft: true } : {}) };
}

function document(
  upstream: MeteredUpstream,
  extra: Record<string, unknown>,
  unpriced: 'allow' | 'refuse',
): Record<string, unknown> {
  return testConfig({
    backends: [{ name: 'meter', type: 'openai', url: `${upstream.url}/v1` }],
    models: [
      { name: 'metered', targets: [{ backend: 'meter' }] },
      { name: 'free-model', targets: [{ backend: 'meter' }] },
    ],
    extra: {
      auth: {
        keys: [
          ...ROUNDS.map((id) => keyEntry(id, { budgets: [asConfig(BULK)] })),
          keyEntry('streamer', { budgets: [asConfig(STREAM)] }),
          ...['canceller', 'producer'].map((id) =>
            keyEntry(id, { budgets: [asConfig(CANCEL_USD), asConfig(CANCEL_TOKENS)] }),
          ),
          keyEntry('squad-a', { team: 'squad' }),
          keyEntry('squad-b', { team: 'squad' }),
          keyEntry('soft', { budgets: [asConfig(SOFT)] }),
          keyEntry('alerted', { budgets: [asConfig(ALERTED)] }),
          keyEntry('hourly', { budgets: [asConfig(HOURLY)] }),
          keyEntry('unpriced', { budgets: [{ usd: 1, window: 'day' }] }),
          keyEntry('ratelimited', { budgets: [asConfig(LIMITED)], rate_limit: { requests: '1/minute' } }),
        ],
      },
      teams: [{ id: 'squad', budgets: [asConfig(TEAM)] }],
      usage: {
        prices: [
          {
            model: 'metered',
            prompt_per_million: PROMPT_PER_TOKEN,
            completion_per_million: COMPLETION_PER_TOKEN,
          },
        ],
      },
      budget: { timezone: 'UTC', unpriced },
      ...extra,
    },
  });
}

async function waitReady(running: RunningGateway): Promise<void> {
  const ready = await until(
    () => sender.send(running.url, 'GET', '/health/ready'),
    (answer) => answer.status === 200,
    10_000,
  );
  assert.equal(ready.status, 200, `the gateway did not become ready: ${ready.text}`);
}

describe('budgets across two gateway instances on one Redis', needsRedis, () => {
  let redis: PrivateRedis;
  let upstream: MeteredUpstream;
  let receiver: WebhookReceiver;
  let probe: Redis;
  let ledger: RedisBudgetLedger;
  const clock = new TestClock();
  let a: RunningGateway;
  let b: RunningGateway;

  /** A budget's state as the ledger sees it now (the gateways' clock). */
  const status = async (scope: `key:${string}` | `team:${string}`, budget: Budget): Promise<BudgetStatus> =>
    (await ledger.status(scope, [budget], clock.now()))[0] as BudgetStatus;
  /** Waits until nothing is reserved against the budget (every request of it settled). */
  const settled = (scope: `key:${string}` | `team:${string}`, budget: Budget): Promise<BudgetStatus> =>
    until(
      () => status(scope, budget),
      (state) => state.reserved === 0,
    );
  const logsOf = (): Record<string, unknown>[] => [...a.logs, ...b.logs];

  before(async () => {
    redis = await startRedisServer();
    upstream = await MeteredUpstream.start();
    receiver = await WebhookReceiver.start();
    probe = new Redis(redis.url);
    ledger = new RedisBudgetLedger(probe, { timeZone: () => 'UTC', timeoutMs: () => 2000 });
    const doc = document(
      upstream,
      {
        redis: { url: redis.url },
        // A loaded 2-core machine can leave redis-server without CPU for a while during a burst of 300:
        // the ledger waits rather than admitting without a reservation (each test checks none did).
        rate_limit: { store_timeout_ms: 2000 },
        alerts: { webhook_url: receiver.url, secret: '${ALERT_SECRET}', thresholds: [0.5, 0.8, 1.0] },
      },
      'refuse',
    );
    const env = { ALERT_SECRET, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
    a = await startClockedGateway(doc, clock, env);
    b = await startClockedGateway(doc, clock, env);
    await waitReady(a);
    await waitReady(b);
  });

  after(async () => {
    await a.stop();
    await b.stop();
    probe.disconnect();
    await receiver.stop();
    await upstream.stop();
    await redis.stop();
    // Whatever ran, the alert secret never reached a log line of either instance.
    for (const line of [...a.rawLogs, ...b.rawLogs]) assert.ok(!line.includes(ALERT_SECRET), line);
  });

  for (const [round, keyId] of ROUNDS.entries())
    it(`300 concurrent priced requests over both instances admit exactly as many as fit (round ${round + 1})`, async () => {
      const limit = Math.round(BULK.limit * 1_000_000);
      const fit = Math.floor(limit / WORST);
      assert.ok(fit > 5 && fit < 150, `a budget of a few cents fits some requests (${fit})`);
      const before = upstream.of('metered').length;
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, index) =>
          chat(index % 2 === 0 ? a.url : b.url, keyId, {}).then((answer) => ({ answer, index })),
        ),
      );
      const admitted = answers.filter(({ answer }) => answer.status === 200);
      assert.equal(admitted.length, fit, `admitted ${admitted.length}, ${fit} fit`);
      // Which instance's reservations reach Redis first is up to the scheduler (each pipelines its
      // burst): one may admit them all. Half the requests went to each, so a ledger per instance would
      // have admitted up to twice `fit`, and every refusal below is budget_exceeded, from the shared one.
      assert.ok(
        answers.every(({ answer }) => answer.status === 200 || answer.status === 429),
        'every request was decided by the ledger',
      );
      assert.equal(upstream.of('metered').length - before, fit, 'only admitted requests went upstream');

      // Each admitted request saw the room left after its own reservation: the k-th, limit − k × worst.
      const remaining = admitted.map(({ answer }) => remainingMicros(answer)).sort((x, y) => y - x);
      assert.deepEqual(
        remaining,
        Array.from({ length: fit }, (_, k) => limit - (k + 1) * WORST),
      );
      for (const { answer } of admitted) assert.equal(answer.headers['x-gateway-budget-unit'], 'usd');

      const expectedRetry = secondsToMidnight(clock.now());
      for (const { answer } of answers.filter(({ answer }) => answer.status !== 200)) {
        assertRefused(answer, new RegExp(`daily budget of 0\\.05 USD of key:${keyId}`));
        const retryAfter = Number(answer.headers['retry-after']);
        assert.ok(
          Math.abs(retryAfter - expectedRetry) <= 5,
          `Retry-After ${retryAfter} s, the window ends in ${expectedRetry} s`,
        );
      }

      const state = await settled(`key:${keyId}`, BULK);
      assert.equal(state.reserved, 0);
      assert.equal(state.spent, fit * WORST, 'each settled at its real cost, which was its worst case');
      assert.ok(state.spent <= limit && limit - state.spent < WORST, `spent ${state.spent} of ${limit}`);
      // The admin API of either instance shows the same spending, in dollars.
      const usage = await sender.send(b.url, 'GET', `/admin/usage?key=${keyId}`, { token: ADMIN_TOKEN });
      assert.equal(usage.status, 200, usage.text);
      const [shown] = (usage.json as { budgets: { spent: number; reserved: number; remaining: number }[] })
        .budgets;
      assert.deepEqual(
        { spent: shown?.spent, reserved: shown?.reserved, remaining: shown?.remaining },
        { spent: usd(state.spent), reserved: 0, remaining: usd(limit - state.spent) },
      );
      assert.equal(
        logsOf().filter((line) => String(line['msg']).startsWith('budget store unavailable')).length,
        0,
        'no request was admitted or refused without the ledger',
      );
    });

  it('the official OpenAI SDK, with its default retries, does not retry a budget refusal', async () => {
    let calls = 0;
    const client = new OpenAI({
      baseURL: `${a.url}/v1`,
      apiKey: apiKey('bulk1'),
      fetch: (url, init) => {
        calls++;
        return fetch(url, init);
      },
    });
    assert.equal(client.maxRetries, 2, 'the SDK retries twice by default');
    const before = upstream.requests.length;
    await assert.rejects(
      client.chat.completions.create({
        model: 'metered',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 100,
      }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError);
        assert.equal(error.code, 'budget_exceeded');
        assert.equal(error.type, 'insufficient_quota');
        return true;
      },
    );
    assert.equal(calls, 1, 'one HTTP request: no retry');
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
  });

  it('a stream settles at its real cost: what it did not produce of max_tokens comes back', async () => {
    const limit = Math.round(STREAM.limit * 1_000_000);
    const content = 'produce:30';
    const worst = costOf(content, 100);
    const real = costOf(content, 30);
    const response = await request(`${a.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: sender.agent,
      headers: { authorization: `Bearer ${apiKey('streamer')}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'metered',
        messages: [{ role: 'user', content }],
        max_tokens: 100,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-gateway-budget-remaining'], String(usd(limit - worst)));
    const text = await response.body.text();
    assert.match(text, /"completion_tokens":30/);
    assert.match(text, /data: \[DONE\]/);
    const state = await settled('key:streamer', STREAM);
    assert.equal(state.spent, real);
    assert.equal(state.remaining, limit - real);
  });

  /**
   * Opens a slow stream (max_tokens 200, a token every 25 ms) for `keyId`, reads 5 tokens or more, then
   * cancels it and waits until the gateway has ended the upstream stream. Returns the tokens received.
   */
  const cancelMidway = async (keyId: string): Promise<number> => {
    const controller = new AbortController();
    const aborts = upstream.aborts;
    const response = await request(`${b.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: sender.agent,
      signal: controller.signal,
      headers: { authorization: `Bearer ${apiKey(keyId)}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'metered',
        messages: [{ role: 'user', content: CANCELLED }],
        max_tokens: 200,
        stream: true,
      }),
    });
    assert.equal(response.statusCode, 200);
    const held = await status(`key:${keyId}`, CANCEL_USD);
    assert.equal(held.reserved, costOf(CANCELLED, 200), 'the worst case is held while the stream runs');
    let received = 0;
    let seen = '';
    try {
      for await (const chunk of response.body) {
        seen += (chunk as Buffer).toString('utf8');
        received = seen.match(/"content":"t"/g)?.length ?? 0;
        if (received >= 5) controller.abort();
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
    assert.ok(received >= 5 && received < 200, `${received} tokens received before cancelling`);
    const ended = await until(
      () => upstream.aborts,
      (count) => count > aborts,
    );
    assert.ok(ended > aborts, 'the gateway ended the upstream stream');
    return received;
  };

  it('a stream the client cancels midway releases its reservation', async () => {
    await cancelMidway('canceller');
    const usdState = await settled('key:canceller', CANCEL_USD);
    const tokenState = await settled('key:canceller', CANCEL_TOKENS);
    assert.equal(usdState.reserved, 0, 'the reservation is not left held');
    assert.equal(tokenState.reserved, 0);
    const worst = costOf(CANCELLED, 200);
    assert.ok(usdState.spent <= worst, `settled ${usdState.spent}, at most the worst case ${worst}`);
    // The room is back: the whole budget but what was settled.
    assert.equal(usdState.remaining, Math.round(CANCEL_USD.limit * 1_000_000) - usdState.spent);
  });

  it('a cancelled stream settles what it produced: its prompt and the tokens sent', async () => {
    const received = await cancelMidway('producer');
    const usdState = await settled('key:producer', CANCEL_USD);
    const tokenState = await settled('key:producer', CANCEL_TOKENS);
    assert.ok(
      usdState.spent >= costOf(CANCELLED, received) && usdState.spent <= costOf(CANCELLED, 200),
      `settled ${usdState.spent} USD micros; the client received ${received} tokens (${costOf(CANCELLED, received)})`,
    );
    assert.ok(
      tokenState.spent >= promptTokens(CANCELLED) + received,
      `settled ${tokenState.spent} tokens; prompt ${promptTokens(CANCELLED)} + ${received} received`,
    );
  });

  it('a team budget shared by two keys refuses both once spent', async () => {
    const limit = Math.round(TEAM.limit * 1_000_000);
    const first = await chat(a.url, 'squad-a', {});
    const second = await chat(b.url, 'squad-b', {});
    const third = await chat(b.url, 'squad-a', {});
    for (const answer of [first, second, third]) assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      [first, second, third].map(remainingMicros),
      [limit - WORST, limit - 2 * WORST, limit - 3 * WORST],
      'both keys draw on the one team budget',
    );
    await settled('team:squad', TEAM);
    assertRefused(await chat(a.url, 'squad-a', {}), /of team:squad/);
    assertRefused(await chat(b.url, 'squad-b', {}), /of team:squad/);
    assertRefused(await chat(a.url, 'squad-b', {}), /of team:squad/);
    assert.equal((await status('team:squad', TEAM)).spent, 3 * WORST);
  });

  it('a soft budget never refuses, and fires its alerts (a failed delivery is retried)', async () => {
    receiver.failNext = 1;
    for (let index = 0; index < 4; index++) {
      const answer = await chat(index % 2 === 0 ? a.url : b.url, 'soft', {});
      assert.equal(answer.status, 200, answer.text);
    }
    const state = await settled('key:soft', SOFT);
    assert.equal(state.spent, 4 * WORST, 'spent 160% of the soft budget');
    const deliveries = await until(
      () => receiver.of('key:soft'),
      (list) => list.length >= 3,
    );
    assert.deepEqual(deliveries.map((delivery) => delivery.body['threshold']).sort(), [0.5, 0.8, 1]);
    for (const delivery of deliveries)
      assert.deepEqual(delivery.body['budget'], {
        unit: 'usd',
        limit: SOFT.limit,
        window: 'day',
        soft: true,
      });
    const lines = logsOf().filter((line) => line['event'] === 'budget_alert' && line['scope'] === 'key:soft');
    assert.deepEqual(lines.map((line) => line['threshold']).sort(), [0.5, 0.8, 1]);
    // The first delivery was answered 503 and tried again; the log names the receiver's origin only.
    assert.equal(receiver.failNext, 0);
    const failed = logsOf().filter((line) => line['event'] === 'budget_webhook_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.['origin'], new URL(receiver.url).origin);
    assert.equal(failed[0]?.['final'], false);
    for (const line of [...a.rawLogs, ...b.rawLogs]) {
      assert.ok(!line.includes('/hooks/gw-token-in-path'), line);
      assert.ok(!line.includes(ALERT_SECRET), line);
    }
  });

  it('webhook alerts at 0.5, 0.8 and 1.0 arrive once each from two instances, signed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 14 }, (_, index) => chat(index % 2 === 0 ? a.url : b.url, 'alerted', {})),
    );
    assert.equal(answers.filter((answer) => answer.status === 200).length, 10);
    const state = await settled('key:alerted', ALERTED);
    assert.equal(state.spent, 10 * WORST);
    const deliveries = await until(
      () => receiver.of('key:alerted'),
      (list) => list.length >= 3,
    );
    assert.deepEqual(deliveries.map((delivery) => delivery.body['threshold']).sort(), [0.5, 0.8, 1]);
    for (const delivery of deliveries) {
      assert.ok(signatureValid(delivery.raw, delivery.signature), `bad signature ${delivery.signature}`);
      const { body } = delivery;
      assert.equal(body['type'], 'budget.threshold');
      assert.deepEqual(body['budget'], { unit: 'usd', limit: ALERTED.limit, window: 'day', soft: false });
      assert.ok(
        (body['spent'] as number) >= (body['threshold'] as number) * ALERTED.limit - 1e-9,
        JSON.stringify(body),
      );
    }
    // Exactly one of the two instances fired each threshold.
    const fired = await until(
      () => logsOf().filter((line) => line['event'] === 'budget_alert' && line['scope'] === 'key:alerted'),
      (lines) => lines.length >= 3,
    );
    assert.equal(fired.length, 3);
    const claims = await probe.keys('{gw-budget}:alert:key:alerted*');
    assert.equal(claims.length, 3, 'one claim in Redis per threshold');
    assert.equal(logsOf().filter((line) => line['event'] === 'budget_alert_store_error').length, 0);
    // No duplicate follows (bounded: a fourth delivery would come within this wait).
    const later = await until(
      () => receiver.of('key:alerted').length,
      (count) => count > 3,
      300,
    );
    assert.equal(later, 3);
  });

  it('a daily budget refuses a model with no price under budget.unpriced: refuse, naming the model', async () => {
    const before = upstream.of('free-model').length;
    assertRefused(await chat(a.url, 'unpriced', { model: 'free-model' }), /'free-model' has no price/);
    assert.equal(upstream.of('free-model').length, before);
    assert.equal((await chat(a.url, 'unpriced', {})).status, 200, 'a priced model is admitted');
  });

  it('an hourly budget refuses, then admits again when the window rolls over', async () => {
    assert.equal((await chat(a.url, 'hourly', {})).status, 200);
    assert.equal((await chat(b.url, 'hourly', {})).status, 200);
    await settled('key:hourly', HOURLY);
    const refused = await chat(a.url, 'hourly', {});
    assertRefused(refused, /hourly budget/);
    const retryAfter = Number(refused.headers['retry-after']);
    const expected = secondsToNextHour(clock.now());
    assert.ok(
      Math.abs(retryAfter - expected) <= 5,
      `Retry-After ${retryAfter}, the hour ends in ${expected}`,
    );
    assertRefused(await chat(b.url, 'hourly', {}), /hourly budget/);

    clock.advance(retryAfter * 1000);
    const fresh = await chat(b.url, 'hourly', {});
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal(remainingMicros(fresh), Math.round(HOURLY.limit * 1_000_000) - WORST, 'a new window, empty');
    assert.equal((await chat(a.url, 'hourly', {})).status, 200);
    assertRefused(await chat(a.url, 'hourly', {}), /hourly budget/);
  });
});

describe('budget.unpriced: allow', () => {
  let upstream: MeteredUpstream;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await MeteredUpstream.start();
    gateway = await startGateway(document(upstream, {}, 'allow'), { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN });
  });
  after(async () => {
    await gateway.stop();
    await upstream.stop();
  });

  it('admits a model with no price against a usd budget, at no cost', async () => {
    const answer = await chat(gateway.url, 'unpriced', { model: 'free-model' });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(upstream.of('free-model').length, 1);
    assert.equal(answer.headers['x-gateway-budget-remaining'], '1');
  });

  it('a request its rate limit refuses holds nothing of the budget afterwards (asked for together, given back)', async () => {
    const budgetOf = async (): Promise<{ spent: number; reserved: number; remaining: number }> => {
      const usage = await sender.send(gateway.url, 'GET', '/admin/usage?key=ratelimited', {
        token: ADMIN_TOKEN,
      });
      assert.equal(usage.status, 200, usage.text);
      const [shown] = (usage.json as { budgets: { spent: number; reserved: number; remaining: number }[] })
        .budgets;
      assert.ok(shown !== undefined, usage.text);
      return shown;
    };
    const calledBefore = upstream.of('metered').length;
    const first = await chat(gateway.url, 'ratelimited', {});
    assert.equal(first.status, 200, first.text);
    const afterFirst = await budgetOf();
    assert.ok(afterFirst.spent > 0, 'the first request was settled at its cost');
    const refused = await chat(gateway.url, 'ratelimited', {});
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.text, /rate_limit_exceeded/);
    // In process the reservation and its release are synchronous: nothing may be left held now.
    assert.deepEqual(await budgetOf(), afterFirst);
    assert.equal(upstream.of('metered').length, calledBefore + 1, 'the refused request never went upstream');
  });
});
