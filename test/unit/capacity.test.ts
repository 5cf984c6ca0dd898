/** The connection budget a site derives from its open-file limit (site/capacity.ts). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FD_RESERVE, atMostEvery, connectionBudget, fileLimitFor, openFileLimit } from '../../site/capacity.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

describe('openFileLimit', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    expect(openFileLimit(LIMITS)).toBe(20000);
    expect(openFileLimit(LIMITS.replace('20000  ', 'unlimited'))).toBeNull();
    expect(openFileLimit('no such line')).toBeNull();
  });

  it('reads this process’s own limit on Linux', () => {
    const own = openFileLimit();
    if (process.platform === 'linux') expect(own).toBeGreaterThan(0);
    else expect(own).toBeNull();
  });
});

describe('connectionBudget', () => {
  it('keeps descriptors for the process and a share of connections for non-agents', () => {
    expect(connectionBudget(20000)).toEqual({ fileLimit: 20000, maxConnections: 20000 - FD_RESERVE, maxAgents: 19936 - 399 });
    // Small limits keep at least 64 connections for technicians and the API.
    expect(connectionBudget(220)).toEqual({ fileLimit: 220, maxConnections: 156, maxAgents: 92 });
    expect(connectionBudget(1048576).maxAgents).toBe(1048512 - 20971);
  });

  it('has no limit where the open-file limit is unknown, unless --max-agents gives one', () => {
    expect(connectionBudget(null)).toEqual({ fileLimit: null, maxConnections: Infinity, maxAgents: Infinity });
    expect(connectionBudget(null, 500).maxAgents).toBe(500);
  });

  it('takes a --max-agents that fits and refuses one that does not, naming the limit it needs', () => {
    expect(connectionBudget(20000, 1000).maxAgents).toBe(1000);
    expect(() => connectionBudget(20000, 50000)).toThrow(
      new RangeError(
        '--max-agents 50000 needs an open-file limit of at least 51085; this process has 20000. ' +
          'Raise it (systemd LimitNOFILE=, or ulimit -n as root) or lower --max-agents.',
      ),
    );
  });

  it('fileLimitFor is the least limit that holds that many agents', () => {
    for (const agents of [2, 50, 92, 93, 3000, 3136, 19537, 50000, 1_000_000]) {
      const limit = fileLimitFor(agents);
      expect(connectionBudget(limit).maxAgents).toBeGreaterThanOrEqual(agents);
      expect(connectionBudget(limit - 1).maxAgents).toBeLessThan(agents);
    }
  });
});

describe('atMostEvery', () => {
  afterEach(() => vi.useRealTimers());

  it('calls through at once, then at most once per interval', () => {
    vi.useFakeTimers();
    let calls = 0;
    const warn = atMostEvery(60_000, () => calls++);
    warn();
    warn();
    expect(calls).toBe(1);
    vi.advanceTimersByTime(59_999);
    warn();
    expect(calls).toBe(1);
    vi.advanceTimersByTime(1);
    warn();
    expect(calls).toBe(2);
  });
});
