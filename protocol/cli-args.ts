/**
 * Command-line value parsers shared by the three programs (`jump-site`, `jump`, `jump-client`),
 * for commander's `argParser`. Each names its flag in the error, which commander prints with the
 * usage and exit status 1 (the programs' "bad input").
 */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from './duration.js';

/** A parser for a whole number >= 1 given to `flag`. */
export function positiveInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number of at least 1.`);
    return n;
  };
}

/**
 * A parser for a duration given to `flag` (protocol/duration.ts: 500ms, 30s, 5m, 12h, 7d), in ms,
 * optionally within [min, max] ms; `hint` replaces the default example text.
 */
export function durationArg(flag: string, range: { min?: number; max?: number; hint?: string } = {}): (v: string) => number {
  return (v) => {
    const ms = parseDuration(v);
    if (ms === null || (range.min !== undefined && ms < range.min) || (range.max !== undefined && ms > range.max)) {
      throw new InvalidArgumentError(`${flag} takes ${range.hint ?? 'a duration such as 500ms, 30s or 5m'}.`);
    }
    return ms;
  };
}

/** All of standard input as UTF-8, without one trailing newline (a password piped with echo). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
