/**
 * The console's output against hostile site data (issue #12 item 1, console half): the pure
 * functions that print tables and write ssh_config/known_hosts, fed rows whose text an endpoint
 * (or a malicious site) chose. The end-to-end case against a real site is in
 * test/integration/hostile-console.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientsTable, detailsTable, jsonSafe, safeLines, safeText, type ClientRow } from '../../console/format.js';
import { commentText, sshConfigFiles } from '../../console/ssh-config.js';
import { newEd25519Key } from '../../protocol/handshake.js';
import { sshPublicKey } from '../../protocol/ssh-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'jump-console-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Raw characters no console output may contain. */
const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

const MARKER = join(dir, 'pwned');
/** A hostname that ends a comment line and adds directives OpenSSH would run. */
const INJECT = `evil\nMatch exec "touch ${MARKER}"\n  ProxyCommand sh -c "touch ${MARKER}"\nHost *\n  LocalCommand touch ${MARKER}\n  PermitLocalCommand yes`;
const TERM = 'srv\t\u001b]0;pwned title\u0007\u001b[2J\u009b31m\u202eexe.txt\u2066\r\nforged row\u007f';

function row(over: Partial<ClientRow>): ClientRow {
  return {
    id: 1,
    name: 'web-01',
    hostname: 'web-01',
    public_ip: '192.0.2.1',
    private_ips: ['10.0.0.1'],
    jump_method: 'Jump Client',
    comments: '',
    jump_group: 'Default',
    tag: '',
    status: 'online',
    mode: 'active',
    last_connected: '2026-01-01T00:00:00.000Z',
    duplicate_machine_id: false,
    ...over,
  };
}

describe('safeText', () => {
  it('turns controls, DEL, C1, bidi controls and lone surrogates into visible escapes', () => {
    expect(safeText('a\u001b[2Jb')).toBe('a\\x1b[2Jb');
    expect(safeText('a\nb\r\tc')).toBe('a\\x0ab\\x0d\\x09c');
    expect(safeText('\u009b\u007f')).toBe('\\x9b\\x7f');
    expect(safeText('\u202eabc\u2066\u200f\u061c')).toBe('\\u202eabc\\u2066\\u200f\\u061c');
    expect(safeText('x\ud800y')).toBe('x\ufffdy');
    expect(safeText(TERM)).not.toMatch(RAW_UNSAFE);
  });

  it('leaves ordinary text alone, backslashes, accents and emoji included', () => {
    for (const s of ['DOMAIN\\user', 'Ünïcödé höst', 'büro-π', 'pc 😀', 'Intel(R) Xeon(R) CPU @ 2.20GHz']) expect(safeText(s)).toBe(s);
    expect(safeText(null)).toBe('');
    expect(safeText(42)).toBe('42');
  });

  it('keeps our own newlines and tabs in whole outputs (safeLines) but not ESC', () => {
    expect(safeLines('g1\tshared\nline2\u001b[2J')).toBe('g1\tshared\nline2\\x1b[2J');
  });

  it('keeps JSON valid and equal while escaping what JSON.stringify leaves raw', () => {
    const obj = { name: TERM, ok: 'plain' };
    const text = jsonSafe(JSON.stringify(obj, null, 2));
    expect(text).not.toMatch(RAW_UNSAFE);
    expect(JSON.parse(text)).toEqual(obj);
  });
});

describe('tables with hostile rows', () => {
  it('print no raw control or bidi character and no forged line (clients list)', () => {
    const rows = [row({ name: TERM, hostname: TERM, comments: TERM, jump_group: TERM, tag: TERM, status: TERM, jump_method: TERM, public_ip: TERM })];
    const text = clientsTable(rows);
    expect(text).not.toMatch(RAW_UNSAFE);
    expect(text).toContain('\\x1b');
    expect(text).not.toContain('\t');
    // group heading, tag heading, one row, and the table's borders: nothing from the row adds a line
    const clean = clientsTable([row({ jump_group: 'g', tag: 't' })]);
    expect(text.split('\n').length).toBe(clean.split('\n').length);
    expect(text).not.toMatch(/^forged row/m);
  });

  it('print no raw control or bidi character (details)', () => {
    const text = detailsTable([
      ['Hostname', TERM],
      ['Private IP', [TERM, TERM]],
      ['Stats', { x: TERM }],
    ]);
    expect(text).not.toMatch(RAW_UNSAFE);
    expect(text).not.toMatch(/^forged row/m);
  });
});

describe('ssh_config from hostile rows', () => {
  const hostKey = () => sshPublicKey(newEd25519Key());
  const opts = {
    proxyArgv: [process.execPath, '/opt/jump dir/main.js', '--site', 'https://127.0.0.1:8443'],
    proxyEnv: { JUMP_CONFIG_DIR: join(dir, 'cfg 100%') },
    knownHostsFile: join(dir, 'known_hosts'),
    identityFile: join(dir, 'id_ed25519'),
  };

  it('keeps site text out of directives: ssh -G shows exactly our options and runs nothing', () => {
    const rows = [
      { id: 1, name: INJECT, jump_group: INJECT, tag: INJECT, host_key: hostKey() },
      { id: 2, name: 'jump-1', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 3, name: 'web-01', jump_group: 'Default', tag: 'a\nb', host_key: hostKey() },
      { id: '4\nHost *', name: 'x', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 5, name: 'x', jump_group: 'Default', tag: '', host_key: `${hostKey()}\nMatch exec "touch ${MARKER}"` },
      { id: 6, name: 'x', jump_group: 'Default', tag: '', host_key: `ssh-rsa AAAA` },
    ];
    const files = sshConfigFiles(rows, opts);
    expect(files.ids).toEqual([1, 2, 3]);
    expect(files.skipped.map((s) => s.id)).toEqual(['4_Host _', '5', '6']);
    const file = join(dir, 'ssh_config');
    writeFileSync(file, files.sshConfig);
    // Every line is ours: a comment, a Host line, or one of our ten options; blocks as expected.
    const lines = files.sshConfig.split('\n').filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^(# [A-Za-z0-9 ._@:/()+,=-]*|Host [a-z0-9._ -]+|    (HostName|HostKeyAlias|ProxyCommand|UserKnownHostsFile|StrictHostKeyChecking|IdentityFile|IdentitiesOnly|User) .+)$/);
    expect(lines.filter((l) => l.startsWith('Host '))).toEqual(['Host jump-1', 'Host jump-2', 'Host jump-3']);
    // ssh itself: parses the file, evaluates it for each host, and runs no Match exec.
    for (const [host, id] of [['jump-1', 1], ['jump-2', 2], ['jump-3', 3]] as const) {
      const g = execFileSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(g).toContain(`\nhostname jump-${id}\n`);
      expect(g).toContain(`\nhostkeyalias jump-${id}\n`);
      expect(g).toMatch(/\nproxycommand env 'JUMP_CONFIG_DIR=.*' .* proxy %h\n/);
      expect(g).not.toMatch(/touch|permitlocalcommand yes|\nlocalcommand /);
    }
    // `jump-1` as a name does not take client 1's alias: ssh -G jump-1 still goes to client 1 (above).
    expect(existsSync(MARKER)).toBe(false);
    // known_hosts: one rebuilt line per accepted row, nothing else.
    expect(files.knownHosts.trim().split('\n')).toEqual([1, 2, 3].map((id, i) => `jump-${id} ${rows[i].host_key}`));
  });

  it('quotes the local ProxyCommand for the shell and doubles % for ssh', () => {
    const files = sshConfigFiles([{ id: 1, name: 'a', jump_group: 'g', tag: '', host_key: hostKey() }], opts);
    const file = join(dir, 'ssh_config2');
    writeFileSync(file, files.sshConfig);
    const g = execFileSync('ssh', ['-G', '-F', file, 'jump-1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // ssh -G prints the command before % expansion (%% -> %, %h -> the host); the shell then splits it.
    const command = /\nproxycommand (.*)\n/.exec(g)![1].replace(/%%/g, '%').replace(/%h$/, 'jump-1');
    const words = execFileSync('sh', ['-c', `printf '%s\\n' ${command}`], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(words).toEqual(['env', `JUMP_CONFIG_DIR=${join(dir, 'cfg 100%')}`, ...opts.proxyArgv, 'proxy', 'jump-1']);
  });

  it('reduces comments to safe tokens', () => {
    expect(commentText('a\nb"c$(d)`e`')).toBe('a_b_c_(d)_e_');
  });

  it('takes no real host name: an endpoint reporting github.com (or named jump-7) gets no alias but jump-<id>', () => {
    // The name falls back to the hostname the endpoint reports. With `Include <config dir>/ssh_config`
    // in ~/.ssh/config (docs/jump.md), a Host alias `github.com` would send `ssh github.com` and
    // `git push` through the jump proxy to that endpoint, trusting its key.
    const rows = [
      { id: 3, name: 'github.com', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 4, name: 'jump-7', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 5, name: 'prod-db', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 6, name: 'Jump-8.', jump_group: 'Default', tag: '', host_key: hostKey() },
      { id: 7, name: 'web-07', jump_group: 'Default', tag: '', host_key: hostKey() },
    ];
    const files = sshConfigFiles(rows, opts);
    expect(files.ids).toEqual([3, 4, 5, 6, 7]);
    const file = join(dir, 'ssh_config3');
    writeFileSync(file, files.sshConfig);
    expect(files.sshConfig.split('\n').filter((l) => l.startsWith('Host '))).toEqual(['Host jump-3', 'Host jump-4', 'Host jump-5', 'Host jump-6', 'Host jump-7']);
    const g = (host: string) => execFileSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const host of ['github.com', 'prod-db', 'jump-8', 'jump-8.', 'web-07']) {
      const out = g(host);
      expect(out, host).toContain(`\nhostname ${host}\n`);
      expect(out, host).not.toMatch(/\nproxycommand |\nhostkeyalias /);
      expect(out, host).not.toContain(opts.knownHostsFile);
      expect(out, host).not.toContain(opts.identityFile);
    }
    // A client named `jump-7` does not take client 7's alias: jump-7 still goes to client 7.
    const seven = g('jump-7');
    expect(seven).toContain('\nhostname jump-7\n');
    expect(seven).toContain('\nhostkeyalias jump-7\n');
    // known_hosts names only jump-<id>: github.com's key is not trusted for github.com.
    for (const l of files.knownHosts.trim().split('\n')) expect(l).toMatch(/^jump-[3-7] ssh-ed25519 /);
  });
});

describe('times, plurals, widths (issue #14 item 9 and 10)', () => {
  it('shortTime gives the time in UTC and says so', async () => {
    const { shortTime } = await import('../../console/format.js');
    expect(shortTime('2026-11-21T23:00:00.000Z')).toBe('2026-11-21 23:00 UTC');
    expect(shortTime('2026-11-22T01:30:00+02:00')).toBe('2026-11-21 23:30 UTC');
    expect(shortTime(null)).toBe('');
    expect(shortTime('yesterday')).toBe('');
  });

  it('plural', async () => {
    const { plural } = await import('../../console/format.js');
    expect(plural(1, 'jump client')).toBe('1 jump client');
    expect(plural(0, 'jump client')).toBe('0 jump clients');
    expect(plural(2, 'online jump client shares', 'online jump clients share')).toBe('2 online jump clients share');
  });

  it('outputWidth: $COLUMNS, else the terminal, else no limit', async () => {
    const { outputWidth } = await import('../../console/format.js');
    expect(outputWidth({ COLUMNS: '100' }, { isTTY: true, columns: 80 })).toBe(100);
    expect(outputWidth({ COLUMNS: 'x' }, { isTTY: true, columns: 80 })).toBe(80);
    expect(outputWidth({}, { isTTY: false })).toBe(Infinity);
  });

  it('clientsTable fits the width it is given, and -o wide ignores it', () => {
    const long = row({ name: 'n'.repeat(60), comments: 'c'.repeat(120), hostname: 'h'.repeat(50) });
    for (const w of [70, 80, 100]) { // below about 68 columns the fixed columns (ID, Status, Last Connected) no longer fit
      expect(Math.max(...clientsTable([long], { width: w }).split('\n').map((l) => [...l].length))).toBeLessThanOrEqual(w);
    }
    expect(clientsTable([long], { width: 80, wide: true })).toContain('c'.repeat(120));
    expect(clientsTable([long], { headers: false }).split('\n')).toHaveLength(1);
  });
});
