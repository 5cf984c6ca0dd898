import { describe, expect, it } from 'vitest';
import { HashQueue, LoginThrottle, needsRehash } from '../../site/auth.js';
import { JumpError } from '../../protocol/errors.js';

describe('LoginThrottle', () => {
  const limits = { addressFailures: 3, addressWindowMs: 1000, addressConcurrent: 1, accountFailures: 5, accountWindowMs: 500 };
  const code = (f: () => void) => {
    try {
      f();
      return null;
    } catch (e) {
      return (e as JumpError).code;
    }
  };
  it('stops an address after its failures until its window ends, and successes do not reset it', () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 3; i++) {
      t.begin('a', 'bob', 0);
      t.end('a', i === 1 ? 'mine' : 'bob', i === 1, 0);
    }
    t.begin('a', 'x', 0);
    t.end('a', 'x', false, 0);
    expect(code(() => t.begin('a', 'bob', 10))).toBe('LOGIN_THROTTLED');
    expect(code(() => t.begin('b', 'other', 10))).toBeNull();
    t.end('b', 'other', true, 10);
    expect(code(() => t.begin('a', 'bob', 1001))).toBeNull();
  });
  it('refuses a second attempt in progress from one address', () => {
    const t = new LoginThrottle(limits);
    t.begin('a', 'bob', 0);
    expect(code(() => t.begin('a', 'bob', 0))).toBe('LOGIN_THROTTLED');
    t.end('a', 'bob', true, 0);
    expect(code(() => t.begin('a', 'bob', 0))).toBeNull();
  });
  it('slows an account for a short window only, whatever the case of its name', () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) {
      t.begin(`x${i}`, 'Bob', 0);
      t.end(`x${i}`, 'Bob', false, 0);
    }
    let err: JumpError | null = null;
    try {
      t.begin('fresh', 'bob', 100);
    } catch (e) {
      err = e as JumpError;
    }
    expect(err?.code).toBe('LOGIN_THROTTLED');
    expect(err?.retryAfterMs).toBe(400);
    expect(code(() => t.begin('fresh', 'bob', 501))).toBeNull();
  });
});

describe('LoginThrottle: trusted addresses (round 2 of item 8)', () => {
  const limits = { addressFailures: 3, addressWindowMs: 1000, addressConcurrent: 1, accountFailures: 5, accountWindowMs: 500, trustedMs: 10_000, trustedMax: 3 };
  const attempt = (t: LoginThrottle, address: string, account: string, now: number): boolean | string => {
    try {
      return t.begin(address, account, now);
    } catch (e) {
      return (e as JumpError).code;
    }
  };
  /** A spray keeping `account` over its window: 5 fresh addresses, one guess each (refused ones count nothing). */
  const spray = (t: LoginThrottle, account: string, now: number) => {
    for (let i = 0; i < 5; i++) {
      const a = `spray-${now}-${i}`;
      if (attempt(t, a, account, now) !== false) continue;
      t.end(a, account, false, now);
    }
  };
  it("lets the owner's usual address in while a spray keeps the account over its window, and slows a new one", () => {
    const t = new LoginThrottle(limits);
    expect(attempt(t, 'home', 'Bob', 0)).toBe(false);
    t.end('home', 'Bob', true, 0);
    t.trust('home', 'Bob', 0);
    for (let now = 100; now < 3000; now += 400) {
      spray(t, 'bob', now);
      expect(attempt(t, 'home', 'BOB', now + 1)).toBe(true); // not refused, and trusted for the hashing queue
      t.end('home', 'bob', true, now + 1);
      expect(attempt(t, 'cafe', 'bob', now + 1)).toBe('LOGIN_THROTTLED'); // the owner elsewhere: slowed
    }
    // Trust is per account: the owner's address gets no pass on another account.
    spray(t, 'alice', 3000);
    expect(attempt(t, 'home', 'alice', 3001)).toBe('LOGIN_THROTTLED');
  });
  it('forgets a trusted address after trustedMs, and keeps at most trustedMax pairs', () => {
    const t = new LoginThrottle(limits);
    t.trust('home', 'bob', 0);
    spray(t, 'bob', 10_001);
    expect(attempt(t, 'home', 'bob', 10_002)).toBe('LOGIN_THROTTLED');
    const u = new LoginThrottle(limits);
    for (const a of ['a1', 'a2', 'a3', 'a4']) u.trust(a, 'carol', 0);
    spray(u, 'carol', 1);
    expect(attempt(u, 'a1', 'carol', 2)).toBe('LOGIN_THROTTLED'); // the least recently used went first
    expect(attempt(u, 'a4', 'carol', 2)).toBe(true);
  });
  it('still stops a trusted address after its own failures', () => {
    const t = new LoginThrottle(limits);
    t.trust('home', 'bob', 0);
    for (let i = 0; i < 3; i++) {
      t.begin('home', 'bob', 1);
      t.end('home', 'bob', false, 1);
    }
    expect(attempt(t, 'home', 'bob', 2)).toBe('LOGIN_THROTTLED');
  });
});

describe('HashQueue', () => {
  it('keeps waiting places for trusted attempts that strangers cannot fill, and serves them first', async () => {
    const q = new HashQueue(1, 3, 2);
    const order: string[] = [];
    let release!: () => void;
    const first = q.run(() => new Promise<void>((r) => (release = r)));
    const stranger = q.run(async () => order.push('stranger'));
    await expect(q.run(async () => 0)).rejects.toMatchObject({ code: 'LOGIN_THROTTLED' });
    const owner1 = q.run(async () => order.push('owner1'), true);
    const owner2 = q.run(async () => order.push('owner2'), true);
    await expect(q.run(async () => 0, true)).rejects.toMatchObject({ code: 'LOGIN_THROTTLED' });
    release();
    await Promise.all([first, stranger, owner1, owner2]);
    expect(order).toEqual(['owner1', 'owner2', 'stranger']);
  });

  it('runs at most maxActive jobs, queues maxWaiting, refuses the rest at once', async () => {
    const q = new HashQueue(2, 1, 0);
    let running = 0;
    let peak = 0;
    const job = () =>
      q.run(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return 1;
      });
    const results = await Promise.allSettled([job(), job(), job(), job(), job()]);
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(refused.map((r) => (r.reason as JumpError).code)).toEqual(['LOGIN_THROTTLED', 'LOGIN_THROTTLED']);
    expect(await job()).toBe(1); // slots are given back
  });
});

it('wants a rehash for hashes below the current scrypt cost only', () => {
  expect(needsRehash('scrypt$15$8$1$c2FsdA$a2V5')).toBe(true);
  expect(needsRehash('scrypt$17$8$1$c2FsdA$a2V5')).toBe(false);
});
