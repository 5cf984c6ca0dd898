/**
 * What every `jump` command shares: the output mode and the two ways out (`out`, `fail`), the API
 * client of the chosen site's stored login (`site`), jump client references, and the options
 * every leaf command takes (`--json`, `--site`). The commands themselves are in console/commands/,
 * one file per group; console/main.ts builds the program from them.
 */
import type { Command } from 'commander';
import { dirname } from 'node:path';
import type { ApiJumpClientDetail } from '../protocol/api.js';
import { durationArg } from '../protocol/cli-args.js';
import { JumpError } from '../protocol/errors.js';
import { ConsoleConfig, normalizeSiteUrl } from './config.js';
import { jsonSafe, safeLines, safeText } from './format.js';
import { SiteClient } from './http.js';

let jsonMode = false;

// A reader that stops early (`jump clients --json | head -1`) closes the pipe: the rest of the
// output has nowhere to go, which is no error of ours. Exit 0 quietly, as most Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

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
 * Prints an error (its message may be the site's own text: escaped) and exits `exitCode` (1; 255
 * for `jump jump`'s own failures; 2 for usage): `CODE: message` on stderr, or with --json
 * `{"error":{...}}` on stdout. Anything not a JumpError is INTERNAL_ERROR. A VALIDATION_FAILED
 * whose text does not name its field gets `field: ` in front, so the text alone says what to fix.
 */
export function fail(err: unknown, exitCode = 1): never {
  const e = err instanceof JumpError ? err : new JumpError('INTERNAL_ERROR', { detail: (err as Error)?.message });
  if (e.code === 'VALIDATION_FAILED' && e.field && !e.message.includes(e.field)) e.message = `${e.field}: ${e.message}`;
  if (jsonMode) process.stdout.write(jsonSafe(JSON.stringify({ error: e.toJSON() })) + '\n');
  else process.stderr.write(`${e.code}: ${safeText(e.message)}\n`);
  process.exit(exitCode);
}

/** The default of --timeout: how long one site request may take, in ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** --timeout of this command (ms), else DEFAULT_TIMEOUT_MS. */
export function requestTimeout(cmd: Command): number {
  return (cmd.optsWithGlobals() as { timeout?: number }).timeout ?? DEFAULT_TIMEOUT_MS;
}

/**
 * The site URL the command names: --site (host:port is read as https://host:port), else
 * $JUMP_SITE, else undefined (the current site). Throws VALIDATION_FAILED (field --site) for
 * something that is not an https URL.
 */
export function siteOption(cmd: Command): string | undefined {
  const given = (cmd.optsWithGlobals() as { site?: string }).site ?? process.env.JUMP_SITE;
  if (given === undefined || given === '') return undefined;
  const url = normalizeSiteUrl(given);
  if (!url) {
    throw new JumpError('VALIDATION_FAILED', {
      field: '--site',
      detail: `--site: "${given}" is not a site address. Fix: give it as https://HOST:PORT, as \`jump-site serve\` printed it.`,
    });
  }
  return url;
}

/**
 * The API client for the chosen site's stored login (--site, else $JUMP_SITE, else the last),
 * with this command's --timeout. Throws CONSOLE_NOT_LOGGED_IN naming the site and the exact
 * `jump login --site URL` to run.
 */
export function site(cmd: Command): SiteClient {
  const wanted = siteOption(cmd);
  const cfg = new ConsoleConfig();
  const found = cfg.login(wanted);
  if (!found) {
    throw new JumpError('CONSOLE_NOT_LOGGED_IN', {
      detail: wanted ? `Site: ${wanted}. Fix: jump login --site ${wanted}` : 'No site was chosen and none is current. Fix: jump login --site https://HOST:PORT',
    });
  }
  return new SiteClient(found.url, { certPem: found.login.cert_pem, token: found.login.token, timeoutMs: requestTimeout(cmd) });
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
 * to every leaf command as well (`jump installer create --json` works as written), and so is
 * `--timeout`.
 */
export function addLeafOptions(cmd: Command): void {
  for (const c of cmd.commands) {
    if (c.commands.length > 0) addLeafOptions(c);
    else {
      c.option('--json', 'machine-readable output');
      c.option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)');
      addTimeoutOption(c);
    }
  }
}

/** Adds `--timeout <duration>` (ms after parsing; default 30s): the longest a site request may take. */
export function addTimeoutOption(cmd: Command): void {
  cmd.option('--timeout <duration>', 'longest wait for the site per request, e.g. 10s or 2m (default: 30s)', durationArg('--timeout', { min: 1 }));
}
