import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { BudgetAlerts, MemoryAlertClaims, RedisAlertClaims, type BudgetAlert } from './alerts.js';
import type { Budget } from '../config/config.js';
import { MemoryBudgetLedger } from './memory-ledger.js';
import { signatureOf, WebhookSender } from './webhook.js';
import { windowAt } from './windows.js';

/** A logger whose lines land in `lines`. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines, text: () => raw.join('') };
}

const daily: Budget = { unit: 'usd', limit: 10, window: 'day', soft: false };
const softTokens: Budget = { unit: 'tokens', limit: 1000, window: 'month', soft: true };

/** Reserves and settles one request of `usdMicros` and `tokens` against both budgets. */
async function spend(ledger: MemoryBudgetLedger, usdMicros: number, tokens: number, now: number) {
  const reserved = await ledger.reserve(
    [
      { scope: 'key:alerts', budget: daily, amount: usdMicros },
      { scope: 'key:alerts', budget: softTokens, amount: tokens },
    ],
    now,
  );
  assert.ok(reserved.ok);
  return ledger.settle(reserved.reservation, { usdMicros, tokens });
}

describe('BudgetAlerts', () => {
  it('fires each threshold once per budget and window, soft budgets included, as a log line and a callback', async () => {
    const { logger, lines } = capturingLogger();
    const fired: BudgetAlert[] = [];
    const alerts = new BudgetAlerts({
      claims: new MemoryAlertClaims(),
      logger,
      thresholds: () => [0.5, 0.8, 1],
      onAlert: (alert) => fired.push(alert),
    });
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC' });
    const now = Date.parse('2030-05-10T12:00:00Z');
    // $4 and 400 tokens: under every threshold.
    await alerts.observe(await spend(ledger, 4_000_000, 400, now), now);
    assert.equal(fired.length, 0);
    // $8.5 and 850 tokens: past 50% and 80% of both.
    await alerts.observe(await spend(ledger, 4_500_000, 450, now), now);
    assert.deepEqual(
      fired.map((alert) => [alert.budget.unit, alert.threshold, alert.spent, alert.limit]),
      [
        ['usd', 0.5, 8.5, 10],
        ['usd', 0.8, 8.5, 10],
        ['tokens', 0.5, 850, 1000],
        ['tokens', 0.8, 850, 1000],
      ],
    );
    // A little more: nothing new.
    await alerts.observe(await spend(ledger, 100_000, 10, now), now);
    assert.equal(fired.length, 4);
    // The soft budget passes 100%, the hard one reaches it exactly.
    await alerts.observe(await spend(ledger, 1_400_000, 500, now), now);
    assert.deepEqual(
      fired.slice(4).map((alert) => [alert.budget.unit, alert.threshold, alert.spent]),
      [
        ['usd', 1, 10],
        ['tokens', 1, 1360],
      ],
    );
    const logged = lines.filter((line) => line.event === 'budget_alert');
    assert.equal(logged.length, 6);
    assert.deepEqual(
      {
        level: logged[0]?.level,
        scope: logged[0]?.scope,
        threshold: logged[0]?.threshold,
        spent: logged[0]?.spent,
      },
      { level: 40, scope: 'key:alerts', threshold: 0.5, spent: 8.5 },
    );
    assert.deepEqual(logged[0]?.window, {
      start: '2030-05-10T00:00:00.000Z',
      end: '2030-05-11T00:00:00.000Z',
    });
    // The next day is a new window: its thresholds fire again.
    const tomorrow = now + 86_400_000;
    await alerts.observe(await spend(ledger, 6_000_000, 0, tomorrow), tomorrow);
    assert.deepEqual(
      fired.slice(6).map((alert) => [alert.threshold, alert.window.start]),
      [[0.5, Date.parse('2030-05-11T00:00:00Z')]],
    );
  });

  it('ignores a settlement counted before', async () => {
    const fired: BudgetAlert[] = [];
    const alerts = new BudgetAlerts({
      claims: new MemoryAlertClaims(),
      logger: pino({ level: 'silent' }),
      thresholds: () => [0.5],
      onAlert: (alert) => fired.push(alert),
    });
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC' });
    const reserved = await ledger.reserve([{ scope: 'key:a', budget: daily, amount: 6_000_000 }], Date.now());
    assert.ok(reserved.ok);
    await ledger.settle(reserved.reservation, { usdMicros: 6_000_000, tokens: 0 });
    const again = await ledger.settle(reserved.reservation, { usdMicros: 6_000_000, tokens: 0 });
    await alerts.observe(again);
    assert.deepEqual(fired, []);
  });
});

describe('RedisAlertClaims', () => {
  let one: Redis;
  let two: Redis;
  const prefix = `gw-budget-alert-test-${process.pid}-${Date.now()}`;

  before(() => {
    one = new Redis(6379, '127.0.0.1', { maxRetriesPerRequest: 1 });
    two = new Redis(6379, '127.0.0.1', { maxRetriesPerRequest: 1 });
  });

  after(async () => {
    const keys = await one.keys(`{${prefix}}:*`);
    if (keys.length > 0) await one.del(...keys);
    one.disconnect();
    two.disconnect();
  });

  it('fires an alert on one instance of two, and forgets it when the window ends', async () => {
    const fired: string[] = [];
    const instance = (redis: Redis, name: string): BudgetAlerts =>
      new BudgetAlerts({
        claims: new RedisAlertClaims(redis, {
          prefix,
          logger: pino({ level: 'silent' }),
          timeoutMs: () => 2000,
        }),
        logger: pino({ level: 'silent' }),
        thresholds: () => [0.5, 0.8],
        onAlert: (alert) => fired.push(`${name} ${alert.threshold}`),
      });
    const first = instance(one, 'one');
    const second = instance(two, 'two');
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC' });
    const now = Date.now();
    const reserved = await ledger.reserve([{ scope: 'key:both', budget: daily, amount: 9_000_000 }], now);
    assert.ok(reserved.ok);
    const settled = await ledger.settle(reserved.reservation, { usdMicros: 9_000_000, tokens: 0 });
    await Promise.all([first.observe(settled, now), second.observe(settled, now)]);
    assert.equal(fired.length, 2, fired.join(', '));
    assert.deepEqual(fired.map((entry) => entry.split(' ')[1]).sort(), ['0.5', '0.8']);
    const keys = await one.keys(`{${prefix}}:alert:*`);
    assert.equal(keys.length, 2);
    const end = windowAt('day', 'UTC', now).end;
    for (const key of keys) assert.equal(await one.pexpiretime(key), end);
  });
});

describe('WebhookSender', () => {
  const secret = 'whsec-marker-5f1d2c';
  let server: Server;
  let url: string;
  const received: { body: string; headers: IncomingMessage['headers']; verified: boolean }[] = [];
  /** Answers to give, in order; 200 after them. */
  let answers: number[] = [];

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        // The receiver's check: HMAC-SHA256 of the raw body, compared in constant time.
        const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
        const given = Buffer.from(String(request.headers['x-gateway-signature'] ?? ''));
        const verified = given.length === expected.length && timingSafeEqual(given, expected);
        received.push({ body, headers: request.headers, verified });
        response.statusCode = verified ? (answers.shift() ?? 200) : 401;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}/hooks/token-in-path`;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('delivers a signed alert after failed tries, backing off, and never logs the secret', async () => {
    received.length = 0;
    answers = [503, 500];
    const { logger, lines, text } = capturingLogger();
    const webhook = new WebhookSender({ url: () => url, secret: () => secret, logger, baseDelayMs: 20 });
    const alerts = new BudgetAlerts({
      claims: new MemoryAlertClaims(),
      logger,
      thresholds: () => [1],
      webhook,
    });
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC' });
    const now = Date.parse('2030-05-10T12:00:00Z');
    const reserved = await ledger.reserve(
      [{ scope: 'team:research', budget: daily, amount: 10_000_000 }],
      now,
    );
    assert.ok(reserved.ok);
    await alerts.observe(
      await ledger.settle(reserved.reservation, { usdMicros: 10_000_000, tokens: 5 }),
      now,
    );
    await webhook.drained();
    assert.equal(received.length, 3);
    assert.ok(received.every((delivery) => delivery.verified));
    assert.ok(received.every((delivery) => delivery.body === received[0]?.body));
    assert.equal(received[0]?.headers['content-type'], 'application/json');
    assert.match(String(received[0]?.headers['x-gateway-timestamp']), /^\d{10}$/);
    assert.deepEqual(JSON.parse(received[0]?.body ?? ''), {
      type: 'budget.threshold',
      scope: 'team:research',
      budget: { unit: 'usd', limit: 10, window: 'day', soft: false },
      threshold: 1,
      spent: 10,
      window_start: '2030-05-10T00:00:00.000Z',
      window_end: '2030-05-11T00:00:00.000Z',
      at: '2030-05-10T12:00:00.000Z',
    });
    const failures = lines.filter((line) => line.event === 'budget_webhook_failed');
    assert.deepEqual(
      failures.map((line) => [line.attempt, line.outcome, line.final]),
      [
        [1, 'status 503', false],
        [2, 'status 500', false],
      ],
    );
    assert.equal(failures[0]?.origin, new URL(url).origin);
    assert.ok(!text().includes(secret));
    assert.ok(!text().includes('token-in-path'));
  });

  it('gives up after the last try, and at once on a 4xx that retrying will not fix', async () => {
    received.length = 0;
    answers = [503, 503, 503, 404];
    const { logger, lines } = capturingLogger();
    const webhook = new WebhookSender({
      url: () => url,
      secret: () => secret,
      logger,
      baseDelayMs: 5,
      attempts: 3,
    });
    webhook.send({ n: 1 });
    await webhook.drained();
    assert.equal(received.length, 3);
    // The fourth answer (404) goes to the next body, which is not tried again.
    webhook.send({ n: 2 });
    await webhook.drained();
    assert.equal(received.length, 4);
    assert.deepEqual(
      lines.filter((line) => line.final === true).map((line) => line.outcome),
      ['status 503', 'status 404'],
    );
  });

  it('keeps at most maxQueue bodies waiting, and sends nothing without a URL', async () => {
    const { logger, lines } = capturingLogger();
    const webhook = new WebhookSender({ url: () => url, secret: () => secret, logger, maxQueue: 1 });
    assert.equal(webhook.send({ n: 1 }), true); // taken for delivery at once
    assert.equal(webhook.send({ n: 2 }), true); // waits
    assert.equal(webhook.send({ n: 3 }), false);
    assert.equal(lines.filter((line) => line.event === 'budget_webhook_dropped').length, 1);
    await webhook.drained();
    const none = new WebhookSender({ url: () => null, secret: () => secret, logger });
    assert.equal(none.send({ n: 4 }), false);
  });

  it('signs as sha256= and the hex HMAC-SHA256 of the body', () => {
    // RFC 4231 test case 2.
    assert.equal(
      signatureOf('what do ya want for nothing?', 'Jefe'),
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});
