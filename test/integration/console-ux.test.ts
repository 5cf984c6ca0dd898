/**
 * The `jump` console as a sysadmin meets it (issue #14 items 9 and 10, console half): one-line
 * usage errors, unknown subcommands with a suggestion, `Examples:` in every --help, tables that fit
 * the terminal (`-o wide`, `--no-headers`), delete confirmation, the passwd confirmation prompt,
 * time zones and plurals. Every case runs the real CLI (a pseudo-terminal where a terminal matters).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { PASSWORD_RULES } from '../../protocol/passwords.js';
import { CONSOLE_BIN, SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { consoleOnTty } from '../helpers/tty.js';
import { createInstaller, inProcessAgent, jump, listClients, login, startTestSite, type TestSite } from '../helpers/site.js';

const jumpNoLogin = (args: string[]) => run(process.execPath, [CONSOLE_BIN, ...args], { env: { JUMP_CONFIG_DIR: tempDir() } });

let site: TestSite;
const agents: Agent[] = [];
beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cleanup();
});

/** A console run with extra environment (COLUMNS), stdout a pipe. */
const jumpEnv = (args: string[], env: Record<string, string>, dir = site.consoleDir) =>
  run(process.execPath, [CONSOLE_BIN, ...args], { env: { JUMP_CONFIG_DIR: dir, ...env } });

/** `jump ARGS` on a pseudo-terminal (test/helpers/tty.ts), logged in as the admin unless `dir` says otherwise. */
const onTty = (args: string[], answers: [RegExp, string][], opts: { dir?: string; cols?: number } = {}) =>
  consoleOnTty(args, answers, { dir: opts.dir ?? site.consoleDir, cols: opts.cols, rows: 40 });

describe('usage errors', () => {
  it.each([
    [['clients', 'list', '--bogus'], /^error: unknown option '--bogus'$/, 'jump clients list'],
    [['clients', 'show'], /^error: missing required argument 'id\|name'$/, 'jump clients show'],
    [['clients', 'list', '--serch', 'x'], /^error: unknown option '--serch' \(Did you mean --search\?\)$/, 'jump clients list'],
    [['installer', 'create', '--max-uses', '0'], /^error: /, 'jump installer create'],
  ])('%j prints one line and where the help is, exit 2', async (args, line, path) => {
    const r = await jumpNoLogin(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(line as RegExp);
    expect(lines[1]).toBe(`see '${path} --help'`);
  });

  it.each([
    [['clients', 'shwo'], "error: unknown command 'shwo' (Did you mean show?)", 'jump clients'],
    [['clients', 'shwo', '--search', 'x'], "error: unknown command 'shwo' (Did you mean show?)", 'jump clients'],
    [['sessions', 'lst'], "error: unknown command 'lst' (Did you mean list?)", 'jump sessions'],
    [['groups', 'craete', 'x'], "error: unknown command 'craete' (Did you mean create?)", 'jump groups'],
    [['grups'], "error: unknown command 'grups' (Did you mean groups?)", 'jump'],
  ])('a mistyped subcommand %j is an unknown command with a suggestion, not excess arguments of list', async (args, line, path) => {
    const r = await jumpNoLogin(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${line}\nsee '${path} --help'\n`);
  });

  it('the default subcommand still runs without one (`jump clients` is `jump clients list`)', async () => {
    const r = await jumpNoLogin(['clients', '--search', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CONSOLE_NOT_LOGGED_IN');
  });
});

describe('--help', () => {
  /** The subcommand names a --help screen lists. */
  const subcommands = (help: string) =>
    [...(help.split('Commands:\n')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]).filter((n) => n !== 'help');

  it('every command has an Examples: section whose examples start with `jump`', async () => {
    const top = await jumpNoLogin(['--help']);
    const paths: string[][] = [[]];
    for (const name of subcommands(top.stdout)) {
      paths.push([name]);
      const sub = await jumpNoLogin([name, '--help']);
      for (const leaf of subcommands(sub.stdout)) paths.push([name, leaf]);
    }
    expect(paths.length).toBeGreaterThan(25);
    for (const p of paths) {
      const r = await jumpNoLogin([...p, '--help']);
      expect(r.code, p.join(' ')).toBe(0);
      const examples = r.stdout.split('\nExamples:\n')[1];
      expect(examples, `jump ${p.join(' ')} --help`).toBeTruthy();
      for (const l of examples.trimEnd().split('\n')) expect(l, `jump ${p.join(' ')} --help`).toMatch(/^ {2}(jump |printf |ssh )/);
    }
  });
});

describe('jump clients: tables that fit, -o wide, --no-headers, times with a zone, plurals', () => {
  const LONG = 'a very long comment about this machine that goes on and on, rack 4, row 7, building B, second floor, ask Jo';
  let ids: string[];

  beforeAll(async () => {
    const inst = await createInstaller(site.api, { tag: 'fit', allow_override: ['name', 'comments', 'tag'] });
    agents.push(inProcessAgent(inst, { machineId: 'cloned-image', requested: { name: 'a-rather-long-jump-item-name-for-fitting', comments: LONG, tag: 'fit' } }));
    agents.push(inProcessAgent(inst, { machineId: 'cloned-image', requested: { name: 'twin', comments: 'short', tag: 'fit-twin' } }));
    const items = await waitFor(async () => {
      const r = await listClients(site.api, 'tag=fit');
      return r.summary.online === 1 && (await listClients(site.api, 'tag=fit-twin')).summary.online === 1 ? r.items : undefined;
    });
    ids = items.map((c) => String(c.id));
  });

  const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

  it('fits $COLUMNS, cutting name and comments with …; piped without COLUMNS nothing is cut', async () => {
    const narrow = await jumpEnv(['clients', '--tag', 'fit'], { COLUMNS: '80' });
    expect(narrow.code).toBe(0);
    expect(widest(narrow.stdout)).toBeLessThanOrEqual(80);
    expect(narrow.stdout).toContain('…');
    expect(narrow.stdout).not.toContain(LONG);
    const piped = await jump(site.consoleDir, ['clients', '--tag', 'fit']);
    expect(piped.stdout).toContain(LONG);
    expect(piped.stdout).not.toMatch(/Jump Method/);
  });

  it('fits the terminal width on a terminal', async () => {
    const r = await onTty(['clients', '--tag', 'fit'], [], { cols: 80 });
    expect(r.code).toBe(0);
    expect(r.output).toContain('Jump Group: ');
    expect(widest(r.output)).toBeLessThanOrEqual(80);
  });

  it('-o wide shows every column and cuts nothing, whatever $COLUMNS says', async () => {
    const r = await jumpEnv(['clients', '--tag', 'fit', '-o', 'wide'], { COLUMNS: '80' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ID.*Name.*Hostname\/IP.*Jump Method.*Comments.*Group.*Tag.*Status.*Last Connected/);
    expect(r.stdout).toContain(LONG);
    expect(r.stdout).toContain('a-rather-long-jump-item-name-for-fitting');
    const bad = await jumpEnv(['clients', '-o', 'tall'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: option '-o, --output <format>' argument 'tall' is invalid\. Allowed choices are wide\.\nsee 'jump clients list --help'\n$/);
  });

  it('--no-headers prints one plain line per jump client: no header, headings, borders or totals', async () => {
    const r = await jump(site.consoleDir, ['clients', '--tag', 'fit', '--no-headers']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].split(/\s+/)[0]).toBe(ids[0]);
    expect(lines[0]).toMatch(/a-rather-long-jump-item-name-for-fitting .* fit +Online/);
    expect(r.stdout).not.toMatch(/Jump Group:|Jump Items total|Last Connected|│|─/);
  });

  it('shows times with their zone, and says "1 online jump client shares" in the singular', async () => {
    const r = await jump(site.consoleDir, ['clients', '--tag', 'fit']);
    expect(r.stdout).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(r.stdout).toContain('1 online jump client shares a machine id with another one (a cloned image?).');
    expect(r.stdout).toContain('1 Jump Items total. 1 Jump Clients total. 1 online. 0 offline. 0 passive.');
    const show = await jump(site.consoleDir, ['clients', 'show', ids[0]]);
    expect(show.stdout).toMatch(/Last Connected +│ \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  });
});

describe('jump clients delete', () => {
  async function oneClient(tag: string): Promise<string> {
    const inst = await createInstaller(site.api, { tag, allow_override: ['name'] });
    agents.push(inProcessAgent(inst, { requested: { name: `${tag}-box` } }));
    return String((await waitFor(async () => (await listClients(site.api, `tag=${tag}`)).items[0])).id);
  }
  const exists = async (tag: string) => (await listClients(site.api, `tag=${tag}`)).items.length === 1;

  it('without a terminal and without --yes refuses (exit 2) and deletes nothing', async () => {
    const id = await oneClient('del-script');
    const r = await jump(site.consoleDir, ['clients', 'delete', id]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: refusing to delete 1 jump client: ${id} (del-script-box) without confirmation: there is no terminal to ask on; pass --yes\nsee 'jump clients delete --help'\n`);
    expect(await exists('del-script')).toBe(true);
    const yes = await jump(site.consoleDir, ['clients', 'delete', id, '--yes']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toBe(`Deleted 1 jump client: ${id}.\n`);
    expect(await exists('del-script')).toBe(false);
  });

  it('on a terminal asks y/N naming what is deleted; anything but y keeps it', async () => {
    const id = await oneClient('del-tty');
    const no = await onTty(['clients', 'delete', id], [[/\[y\/N\] /, '']]);
    expect(no.output).toContain(`Delete 1 jump client: ${id} (del-tty-box)? They are revoked and disconnected. [y/N]`);
    expect(no.output).toContain('Nothing deleted.');
    expect(no.code).toBe(1);
    expect(await exists('del-tty')).toBe(true);
    const yes = await onTty(['clients', 'delete', id], [[/\[y\/N\] /, 'y']]);
    expect(yes.code).toBe(0);
    expect(yes.output).toContain(`Deleted 1 jump client: ${id}.`);
    expect(await exists('del-tty')).toBe(false);
  });
});

describe('jump passwd on a terminal', () => {
  const OLD = 'first password 1';
  const NEW = 'second password 2';
  let dir: string;
  beforeAll(async () => {
    const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'pat', '--password-stdin', '--data', site.dataDir], { input: OLD });
    expect(add.code, add.stderr).toBe(0);
    dir = tempDir();
    await login(site, dir, 'pat', OLD);
  });

  it('shows the rules before the new password, and refuses two different entries without changing anything', async () => {
    const r = await onTty(['passwd'], [
      [/Current password: /, OLD],
      [/New password: /, NEW],
      [/Repeat the new password: /, NEW + 'x'],
    ], { dir });
    expect(r.code).toBe(1);
    expect(r.output.indexOf(PASSWORD_RULES)).toBeGreaterThan(r.output.indexOf('Current password:'));
    expect(r.output.indexOf(PASSWORD_RULES)).toBeLessThan(r.output.indexOf('New password:'));
    expect(r.output).toMatch(/VALIDATION_FAILED: .*the two entries differ; nothing was changed/);
    await login(site, tempDir(), 'pat', OLD); // the old password still works
  });

  it('changes the password when both entries match, and stays logged in', async () => {
    const r = await onTty(['passwd'], [
      [/Current password: /, OLD],
      [/New password: /, NEW],
      [/Repeat the new password: /, NEW],
    ], { dir });
    expect(r.code).toBe(0);
    expect(r.output).toContain('Password changed.');
    await login(site, tempDir(), 'pat', NEW);
    expect((await jump(dir, ['whoami'])).code).toBe(0);
  });
});

describe('jump installer list, jump groups list and jump sessions: -o wide, --no-headers, $COLUMNS', () => {
  it('fit $COLUMNS with a header row, show every cell whole with -o wide, and drop the header with --no-headers', async () => {
    const longTag = 'a-very-long-tag-that-does-not-fit-in-a-narrow-terminal-at-all';
    await createInstaller(site.api, { tag: longTag });
    const narrow = await jumpEnv(['installer', 'list'], { COLUMNS: '80' });
    expect(narrow.code, narrow.stderr).toBe(0);
    const lines = narrow.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UID\s+STATE\s+JUMP GROUP\s+TAG\s+VALID UNTIL\s+USES$/);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
    expect(narrow.stdout).toContain('…');
    const wide = await jumpEnv(['installer', 'list', '-o', 'wide'], { COLUMNS: '80' });
    expect(wide.stdout).toContain(longTag);
    const bare = await jumpEnv(['installer', 'list', '--no-headers'], {});
    expect(bare.stdout).not.toMatch(/^UID/m);
    expect(bare.stdout).toContain(longTag);

    // Jump groups: the same table rules.
    await site.api.request('POST', '/api/v1/jump-groups', { name: 'A Shared Group With A Rather Long Name For Narrow Terminals' });
    const groups = await jumpEnv(['groups', 'list'], { COLUMNS: '40' });
    expect(groups.code, groups.stderr).toBe(0);
    expect(groups.stdout).toMatch(/^NAME\s+KIND\s+MEMBERS$/m);
    for (const l of groups.stdout.trimEnd().split('\n')) expect([...l].length).toBeLessThanOrEqual(40);
    expect((await jumpEnv(['groups', 'list', '-o', 'wide'], { COLUMNS: '40' })).stdout).toContain('A Shared Group With A Rather Long Name For Narrow Terminals');
    expect((await jumpEnv(['groups', 'list', '--no-headers'], {})).stdout).not.toMatch(/^NAME/m);

    const sessions = await jumpEnv(['sessions', '--no-headers'], { COLUMNS: '50' });
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stdout).not.toMatch(/^SESSION/m);
  });
});
