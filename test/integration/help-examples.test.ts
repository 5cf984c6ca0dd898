/**
 * Issue #14 item 9: every command of `jump-site` and `jump-client` shows `Examples:` (and the
 * exit-code table) in its --help. The commands are read from the programs' own help, so a new
 * command without examples fails here. (`jump`'s are checked in console-ux.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, SITE_BIN, cleanup, run } from '../helpers/processes.js';

afterAll(cleanup);

/** The subcommand names listed under "Commands:" in a --help text (help itself left out). */
function subcommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]).filter((n) => n !== 'help');
}

async function walk(bin: string, path: string[], seen: string[]): Promise<void> {
  const r = await run(process.execPath, [bin, ...path, '--help']);
  expect(r.code, `${path.join(' ')} --help`).toBe(0);
  expect(r.stdout, `${path.join(' ') || 'top level'}: Examples`).toMatch(/\nExamples:\n {2}\S/);
  expect(r.stdout).toMatch(/Exit status|exit codes|Exit codes/i);
  seen.push(path.join(' '));
  for (const c of subcommands(r.stdout)) await walk(bin, [...path, c], seen);
}

describe('--help of jump-site and jump-client', () => {
  it('has Examples: and the exit codes on every command', async () => {
    const site: string[] = [];
    await walk(SITE_BIN, [], site);
    expect(site).toEqual(expect.arrayContaining(['', 'serve', 'user', 'user add', 'user list', 'user remove', 'user passwd', 'user set']));
    const agent: string[] = [];
    await walk(AGENT_BIN, [], agent);
    expect(agent).toEqual(expect.arrayContaining(['', 'run', 'uninstall', 'disable', 'enable', 'install', 'start', 'stop', 'restart', 'status']));
  });
});
