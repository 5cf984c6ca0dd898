/**
 * What every `jump` command shares: the output mode and the two ways out (`out`, `fail`), the API
 * client of the chosen site's stored login (`site`), jump client references, and the options
 * every leaf command takes (`--json`, `--site`). The commands themselves are in console/commands/,
 * one file per group; console/main.ts builds the program from them.
 */
import type { Command } from 'commander';
import { dirname } from 'node:path';
import type { ApiJumpClientDetail } from '../protocol/api.js';
import { JumpError } from '../protocol/errors.js';
import { ConsoleConfig } from './config.js';
import { jsonSafe, safeLines, safeText } from './format.js';
import { SiteClient } from './http.js';

let jsonMode = false;

/** Switches `out` and `fail` to JSON on stdout (--json); set once per run, before the action. */
export function setJsonMode(on: boolean): void {
  jsonMode = on;
}

/**
 * Prints a result: `obj` as JSON with --json, else `text`. Both pass a last guard (`jsonSafe`,
 * `safeLines`), so no control or bidi character from the site reaches the terminal raw; the
 * pieces of `text` that come from the site go through `safeText` where the text is built, so a
 * newline cannot forge a line either.
 */
export function out(obj: unknown, text: string | (() => string)): void {
  process.stdout.write((jsonMode ? jsonSafe(JSON.stringify(obj, null, 2)) : safeLines(typeof text === 'function' ? text() : text)) + '\n');
}

/**
 * Prints an error (its message may be the site's own text: escaped) and exits 1: `CODE: message`
 * on stderr, or with --json `{"error":{...}}` on stdout. Anything not a JumpError is INTERNAL_ERROR.
 */
export function fail(err: unknown): never {
  const e = err instanceof JumpError ? err : new JumpError('INTERNAL_ERROR', { detail: (err as Error)?.message });
  if (jsonMode) process.stdout.write(jsonSafe(JSON.stringify({ error: e.toJSON() })) + '\n');
  else process.stderr.write(`${e.code}: ${safeText(e.message)}\n`);
  process.exit(1);
}

/** The API client for the chosen site's stored login (--site, else $JUMP_SITE, else the last). Throws CONSOLE_NOT_LOGGED_IN. */
export function site(cmd: Command): SiteClient {
  const opts = cmd.optsWithGlobals() as { site?: string };
  const cfg = new ConsoleConfig();
  const found = cfg.login(opts.site ?? process.env.JUMP_SITE);
  if (!found) throw new JumpError('CONSOLE_NOT_LOGGED_IN');
  return new SiteClient(found.url, { certPem: found.login.cert_pem, token: found.login.token });
}

/** A commander argParser for repeatable, comma-separated lists: `--field a,b --field c` -> [a, b, c]. */
export function collect(value: string, prev: string[] = []): string[] {
  return prev.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

/** Splits `jump-7` or `7` into the id; anything else is a name. */
export function clientRef(ref: string): string {
  const m = /^jump-(\d+)$/.exec(ref);
  return m ? m[1] : ref;
}

/** One jump client by id or name, with its statistics. Throws the site's codes (JUMP_CLIENT_NOT_FOUND, ...). */
export async function resolveClient(client: SiteClient, ref: string): Promise<ApiJumpClientDetail> {
  const r = await client.request<{ item: ApiJumpClientDetail }>('GET', `/api/v1/jump-clients/${encodeURIComponent(ref)}`);
  return r.item;
}

/** The console's config directory (the stored logins' file is in it; so are the OpenSSH identity and files). */
export function configDir(): string {
  return dirname(new ConsoleConfig().path);
}

/**
 * Commander hands options to one level of subcommands only, so `--json` and `--site` are attached
 * to every leaf command as well (`jump installer create --json` works as written).
 */
export function addLeafOptions(cmd: Command): void {
  for (const c of cmd.commands) {
    if (c.commands.length > 0) addLeafOptions(c);
    else {
      c.option('--json', 'machine-readable output');
      c.option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)');
    }
  }
}
