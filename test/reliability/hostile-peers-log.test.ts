/**
 * The refusal log of the hostile-peers suite (site/refusal-log.ts): every refusal is logged, a
 * flood of them as one counted line per interval, never one line each.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { refusalLog } from '../../site/refusal-log.js';

describe('refusalLog', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('logs the first refusal at once and the next 999 as one line with their counts after the interval', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const refused = refusalLog(log, 'refused', { everyMs: 10_000 });
    refused({ code: 'A', remote: '127.0.0.2' });
    expect(lines).toEqual([expect.objectContaining({ msg: 'refused', level: 40, code: 'A', refused: 1, counts: { A: 1 } })]);
    for (let i = 0; i < 999; i++) refused(i % 3 === 0 ? { reason: 'per_address' } : { code: 'B', n: i });
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(9_999);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ refused: 999, counts: { per_address: 333, B: 666 }, code: 'B', n: 998 });
    // Quiet since: nothing more is written, and the next refusal after the interval is logged at once.
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    refused({ code: 'C' });
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ refused: 1, counts: { C: 1 } });
  });
});
