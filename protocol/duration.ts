/**
 * Durations as people type them: `90s`, `10m`, `12h`, `7d`, `500ms` (one number, one unit).
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `text` into ms. Returns `null` when it is not `<positive integer><ms|s|m|h|d>`.
 */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d{1,9})\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  if (n <= 0) return null;
  return n * UNIT_MS[m[2]];
}

/** Formats ms as the largest whole unit that divides it, e.g. 604800000 -> `7d`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
