import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../protocol/duration.js';

describe('durations', () => {
  it('parses the units people type and refuses the rest', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBeNull();
    expect(parseDuration('0s')).toBeNull();
    expect(parseDuration('soon')).toBeNull();
    expect(formatDuration(604_800_000)).toBe('7d');
    expect(formatDuration(90_000)).toBe('90s');
  });
});
