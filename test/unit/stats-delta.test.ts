import { describe, expect, it } from 'vitest';
import { statsDelta } from '../../agent/stats.js';
import { fixtureStats } from '../helpers/site.js';

describe('statistics delta', () => {
  it('holds only changed fields, comparing arrays by value', () => {
    const a = fixtureStats();
    expect(statsDelta(a, { ...a, private_ips: [...a.private_ips] })).toEqual({});
    expect(statsDelta(a, { ...a, console_user: 'eve', cpu_load_pct: 40 })).toEqual({ console_user: 'eve', cpu_load_pct: 40 });
  });
});
