/**
 * The OpenSSH files `jump ssh-config` writes: Host blocks (`<config dir>/ssh_config`) and the
 * jump clients' host keys (`<config dir>/known_hosts`).
 *
 * Everything a row holds came from the site, and much of it from the endpoint (its name falls back
 * to the hostname the agent reports). A newline in a comment line of ssh_config would turn the rest
 * into live directives (`Match exec "..."` runs a command on the next `ssh`), so site text is written
 * only as validated tokens (DESIGN.md, security model; issue #12 item 1):
 *  - the Host alias `jump-<id>` from a positive integer id, and no other alias: nothing the site or
 *    the endpoint chose becomes a Host pattern. A name alias (even reduced to `[a-z0-9._-]`) could be
 *    `github.com` or `prod-db`, and with `Include <config dir>/ssh_config` in ~/.ssh/config a plain
 *    `ssh github.com` / `git push` would go through the jump proxy to the hostile endpoint, with its
 *    key trusted by our known_hosts (round 2 review of issue #12);
 *  - a comment reduced to `[A-Za-z0-9 ._@:/()+,=-]`;
 *  - known_hosts lines rebuilt from the parsed ssh-ed25519 key (nothing of the site's line is copied).
 * A row with a bad id or host key is left out of both files and reported in `skipped`.
 * The local values (ProxyCommand, file paths) are the user's own; they are still quoted for their
 * context and refused when they cannot be written safely.
 */
import shellQuote from 'shell-quote';
import { JumpError } from '../protocol/errors.js';
import { parseSshPublicKey, sshPublicKey } from '../protocol/ssh-keys.js';
import { accessSync, constants as fsConstants, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join as joinPath, resolve as resolvePath } from 'node:path';

/** What ssh-config needs of a jump client row from `GET /api/v1/jump-clients`. */
export interface SshConfigRow {
  id: unknown;
  name: unknown;
  jump_group: unknown;
  tag: unknown;
  host_key: unknown;
}

export interface SshConfigOptions {
  /** The console's own command line for ProxyCommand, as argv (e.g. [node, main.js, '--site', url]); `proxy %h` is appended. */
  proxyArgv: string[];
  /** Extra environment for the proxy command (e.g. JUMP_CONFIG_DIR), as NAME -> value. */
  proxyEnv?: Record<string, string>;
  /** Absolute path of the known_hosts file written beside the config. */
  knownHostsFile: string;
  /** Absolute path of the OpenSSH identity (`<config dir>/id_ed25519`). */
  identityFile: string;
}

export interface SshConfigFiles {
  /** The ssh_config text: one Host block per accepted row. */
  sshConfig: string;
  /** The known_hosts text: `jump-<id> ssh-ed25519 <base64>` per accepted row. */
  knownHosts: string;
  /** Accepted rows' ids, in order. */
  ids: number[];
  /** Rows left out, with why (texts already safe to print). */
  skipped: { id: string; reason: string }[];
}

/** The comment charset: printable, and nothing OpenSSH or a shell gives a meaning to. */
const COMMENT_UNSAFE = /[^A-Za-z0-9 ._@:/()+,=-]/g;

/** Site text for a `#` comment line: reduced to a safe charset, one line, at most 100 characters. */
export function commentText(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  const flat = s.replace(COMMENT_UNSAFE, '_');
  return flat.length > 100 ? flat.slice(0, 99) + '_' : flat;
}

/** A local path or value for an ssh_config option: refused when it holds characters that cannot be written safely; `%` doubled (ssh expands `%x` tokens). */
function configValue(option: string, value: string): string {
  if (/[\u0000-\u001f\u007f"]/.test(value)) {
    throw new JumpError('VALIDATION_FAILED', { field: option, detail: `${option}: ${JSON.stringify(value)} holds a control character or a double quote and cannot be written into ssh_config; use another config dir (JUMP_CONFIG_DIR).` });
  }
  const v = value.replace(/%/g, '%%');
  return /^[A-Za-z0-9_./:@=+,-]+$/.test(v) ? v : `"${v}"`;
}

/**
 * Builds the ssh_config and known_hosts texts for `rows`. Pure: writes nothing. Each accepted row
 * gets one block `Host jump-<id>`; the name appears only in the `#` comment above it.
 * Throws VALIDATION_FAILED (field ProxyCommand/UserKnownHostsFile/IdentityFile) when a local path
 * cannot be written safely; site rows never throw, bad ones land in `skipped`.
 */
export function sshConfigFiles(rows: SshConfigRow[], opts: SshConfigOptions): SshConfigFiles {
  const skipped: SshConfigFiles['skipped'] = [];
  const accepted: { id: number; row: SshConfigRow; hostKey: string }[] = [];
  for (const row of rows) {
    const id = row.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      skipped.push({ id: commentText(id), reason: 'the site sent an id that is not a positive integer' });
      continue;
    }
    let hostKey: string;
    try {
      // Exactly `ssh-ed25519 <base64>`: the site's API sends no comment, so anything more is refused.
      if (typeof row.host_key !== 'string' || !/^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$/.test(row.host_key)) throw new Error('not one key');
      hostKey = sshPublicKey(parseSshPublicKey(row.host_key));
    } catch {
      skipped.push({ id: String(id), reason: 'the site sent a host key that is not one ssh-ed25519 key' });
      continue;
    }
    accepted.push({ id, row, hostKey });
  }
  // ProxyCommand is run by /bin/sh (`exec ...`): quote every word for the shell, then double `%`.
  const env = Object.entries(opts.proxyEnv ?? {}).map(([k, v]) => `${k}=${v}`);
  const proxyWords = [...(env.length ? ['env', ...env] : []), ...opts.proxyArgv];
  for (const w of proxyWords) {
    if (/[\u0000-\u001f\u007f]/.test(w)) throw new JumpError('VALIDATION_FAILED', { field: 'ProxyCommand', detail: `ProxyCommand: ${JSON.stringify(w)} holds a control character.` });
  }
  const proxy = `${shellQuote.quote(proxyWords).replace(/%/g, '%%')} proxy %h`;
  const knownHostsFile = configValue('UserKnownHostsFile', opts.knownHostsFile);
  const identityFile = configValue('IdentityFile', opts.identityFile);
  const blocks = accepted.map(({ id, row }) => {
    const where = commentText(row.jump_group) + (row.tag ? ' / ' + commentText(row.tag) : '');
    return [
      `# ${commentText(row.name)} (${where})`,
      // The only Host pattern: `jump-<id>` from the integer id, never a name (see the file comment).
      `Host jump-${id}`,
      `    HostName jump-${id}`,
      `    HostKeyAlias jump-${id}`,
      `    ProxyCommand ${proxy}`,
      `    UserKnownHostsFile ${knownHostsFile}`,
      '    StrictHostKeyChecking yes',
      `    IdentityFile ${identityFile}`,
      '    IdentitiesOnly yes',
      '    User jump',
    ].join('\n');
  });
  return {
    sshConfig: blocks.join('\n\n') + '\n',
    knownHosts: accepted.map(({ id, hostKey }) => `jump-${id} ${hostKey}`).join('\n') + '\n',
    ids: accepted.map((a) => a.id),
    skipped,
  };
}

/**
 * The console's own command line for ProxyCommand (issue #14 item 5): a path that outlives npx's
 * cache and the shell it ran in. `argv1` is process.argv[1] (under npx a path in its cache, e.g.
 * `~/.npm/_npx/<hash>/node_modules/.bin/jump`), `execPath` node's path, `pathEnv` $PATH.
 *  1. an executable `jump` on $PATH that resolves (realpath) to this same program: that PATH entry,
 *     e.g. `/usr/local/bin/jump` after `npm install -g` (kept up to date by npm);
 *  2. otherwise `[execPath, realpath(argv1)]`: the package's file itself, not npx's `.bin` link
 *     (e.g. `<repo>/dist/console/main.js` for `npx jump` run in a checkout).
 * `warning` is set when that file is itself in npx's cache (a package npx downloaded): the
 * ProxyCommand breaks once the cache is cleaned, so the user is told to install `jump`.
 */
export function proxyCommandArgv(argv1: string, execPath: string, pathEnv: string | undefined): { argv: string[]; warning?: string } {
  const real = (p: string): string | null => {
    try {
      return realpathSync(p);
    } catch {
      return null;
    }
  };
  const self = real(argv1) ?? resolvePath(argv1);
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = joinPath(dir, 'jump');
    try {
      accessSync(candidate, fsConstants.X_OK);
    } catch {
      continue;
    }
    if (real(candidate) === self) return { argv: [candidate] };
  }
  const argv = [execPath, self];
  if (/[\\/]_npx[\\/]/.test(self)) {
    return {
      argv,
      warning: `ProxyCommand names ${self}, in npx's cache: it stops working when that cache is cleaned. Install jump (npm install -g, see README.md) and run \`jump ssh-config --write\` again`,
    };
  }
  return { argv };
}
