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

describe('HashQueue', () => {
  it('runs at most maxActive jobs, queues maxWaiting, refuses the rest at once', async () => {
    const q = new HashQueue(2, 1);
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
