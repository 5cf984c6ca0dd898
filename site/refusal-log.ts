/**
 * Log lines for refused peers that a flood cannot turn into a flood of lines (issue #15 item 5:
 * every hostile peer refused with its code and logged, the site unharmed). The first refusal of a
 * kind is logged at once; later ones are counted and written at most once per `everyMs`, as one
 * line with the count (`refused`), the count per code or reason (`counts`) and the fields of the
 * latest refusal. A count still pending is written by a timer (unref'd: it never keeps the process
 * alive) when its interval is over.
 */
import type { Logger } from 'pino';

/** Fields of one refusal; `code` (a catalog code) or `reason` is what `counts` counts by. */
export type RefusalFields = Record<string, unknown> & { code?: string; reason?: string };

/**
 * A refusal logger writing `msg` at `level` on `log`, at most once per `everyMs` (ms; default
 * 10 000) after the first. Returns the function to call once per refusal.
 */
export function refusalLog(log: Logger, msg: string, opts: { everyMs?: number; level?: 'info' | 'warn' } = {}): (fields?: RefusalFields) => void {
  const everyMs = opts.everyMs ?? 10_000;
  const level = opts.level ?? 'warn';
  let last = Number.NEGATIVE_INFINITY;
  let pending = 0;
  let counts = new Map<string, number>();
  let latest: RefusalFields = {};
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending === 0) return;
    log[level]({ ...latest, refused: pending, counts: Object.fromEntries(counts) }, msg);
    pending = 0;
    counts = new Map();
    last = Date.now();
  };
  return (fields = {}) => {
    pending++;
    const key = String(fields.code ?? fields.reason ?? 'refused');
    counts.set(key, (counts.get(key) ?? 0) + 1);
    latest = fields;
    const waited = Date.now() - last;
    if (waited >= everyMs) flush();
    else if (!timer) {
      timer = setTimeout(flush, everyMs - waited);
      timer.unref();
    }
  };
}
