/**
 * The `jump` console as a sysadmin meets it (issue #14 items 9 and 10, console half): one-line
 * usage errors, unknown subcommands with a suggestion, `Examples:` in every --help, tables that fit
 * the terminal (`-o wide`, `--no-headers`), delete confirmation, the passwd confirmation prompt,
 * time zones and plurals. Every case runs the real CLI (a pseudo-terminal where a terminal matters).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_BIN, cleanup, run, tempDir } from '../helpers/processes.js';

const jumpNoLogin = (args: string[]) => run(process.execPath, [CONSOLE_BIN, ...args], { env: { JUMP_CONFIG_DIR: tempDir() } });

afterAll(cleanup);

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
