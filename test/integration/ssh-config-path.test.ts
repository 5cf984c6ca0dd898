/**
 * `jump ssh-config --write` names a ProxyCommand that outlives npx's cache (issue #14 item 5): the
 * installed `jump` on PATH, else the package's own file (realpath), never npx's `.bin` link.
 */
import { chmodSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { createInstaller, listClients, startAgentProcess, startTestSite, type TestSite } from '../helpers/site.js';

let site: TestSite;
/** A fake npx cache: `<tmp>/_npx/0123abcd/node_modules/.bin/jump` -> dist/console/main.js. */
let npxJump: string;

beforeAll(async () => {
  site = await startTestSite();
  const inst = await createInstaller(site.api, { tag: 'sshcfg' });
  startAgentProcess(inst); // one online jump client, so ssh-config writes a Host block
  await waitFor(async () => (await listClients(site.api, 'tag=sshcfg')).items.find((c) => c.status === 'online' && c.host_key));
  const bin = join(tempDir(), '_npx', '0123abcd', 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  npxJump = join(bin, 'jump');
  symlinkSync(CONSOLE_BIN, npxJump);
}, 60_000);
afterAll(cleanup);

/** Runs `jump ssh-config --write` the way npx does (node on its `.bin` link) with `path` as $PATH. */
async function sshConfigVia(path: string): Promise<{ proxy: string; stderr: string }> {
  const r = await run(process.execPath, [npxJump, 'ssh-config', '--write'], { env: { JUMP_CONFIG_DIR: site.consoleDir, PATH: path } });
  expect(r.code, r.stderr).toBe(0);
  const text = readFileSync(join(site.consoleDir, 'ssh_config'), 'utf8');
  return { proxy: /^\s*ProxyCommand (.*)$/m.exec(text)![1], stderr: r.stderr };
}

describe('jump ssh-config --write under npx', () => {
  it('uses the installed `jump` on PATH when it is this program', async () => {
    const installed = tempDir();
    symlinkSync(CONSOLE_BIN, join(installed, 'jump'));
    chmodSync(CONSOLE_BIN, 0o755); // as npm install makes a package's bin
    const { proxy } = await sshConfigVia(`${installed}:${process.env.PATH}`);
    expect(proxy).toContain(` ${join(installed, 'jump')} --site `);
    expect(proxy).not.toContain(CONSOLE_BIN);
    expect(proxy).not.toContain('_npx');
  });

  it("otherwise names the package's own file (realpath), not npx's .bin link", async () => {
    const { proxy } = await sshConfigVia(process.env.PATH ?? '/usr/bin:/bin');
    expect(proxy).toContain(` ${process.execPath} ${CONSOLE_BIN} --site `);
    expect(proxy).not.toContain('_npx');
  });
});
