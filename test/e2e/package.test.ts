/**
 * The packaged jump-client for every platform `npm run package` builds (issue #3): each
 * executable starts without Node.js and loads its native modules (node-pty, bufferutil) from
 * beside itself. linux-arm64 runs under qemu-user, win-x64 under wine (Windows version set to 10).
 * `npm test` runs `npm run package` before the tests.
 */
import { newWinePrefix } from '../helpers/wine.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run, tempDir } from '../helpers/processes.js';

const PKG = join(ROOT, 'dist', 'package');

/** Runs `jump-client selftest` and returns its JSON line. */
function selftestJson(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  expect(line, stdout).toBeDefined();
  return JSON.parse(line!) as Record<string, string>;
}

describe('packaged jump-client', () => {
  it('linux-x64: runs, and its native modules load beside it', async () => {
    const exe = join(PKG, 'linux-x64', 'jump-client');
    // `<package.json version>+<build id>`, the build id being build.json's hash's first 12 hex (issue #17).
    const build = JSON.parse(readFileSync(join(PKG, 'linux-x64', 'build.json'), 'utf8')) as { version: string; hash: string };
    expect(build.version).toBe(`${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}+${build.hash.slice(0, 12)}`);
    expect((await run(exe, ['--version'])).stdout.trim()).toBe(build.version);
    const r = await run(exe, ['selftest'], { env: { PATH: '/usr/bin:/bin' } });
    expect(selftestJson(r.stdout)).toMatchObject({ platform: 'linux-x64', node: process.versions.node, pty: 'ok', bufferutil: 'ok' });
    expect(r.code).toBe(0);
  });

  it('linux-arm64 (under qemu-aarch64): runs, and its cross-compiled native modules load', async () => {
    const r = await run('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', join(PKG, 'linux-arm64', 'jump-client'), 'selftest']);
    expect(selftestJson(r.stdout)).toMatchObject({ platform: 'linux-arm64', pty: 'ok', bufferutil: 'ok' });
    expect(r.code).toBe(0);
  });

  describe('win-x64 under wine', () => {
    let env: NodeJS.ProcessEnv;
    let outDir: string;
    /** Runs a Windows program under wine; its stdout goes to a file (wine's console breaks on a pipe). */
    async function wine(args: string[]) {
      const out = join(outDir, 'stdout.txt');
      const r = await run('sh', ['-c', 'wine "$@" > "$OUT" 2>/dev/null', 'wine', ...args], { env: { ...env, OUT: out } });
      return { code: r.code, stdout: existsSync(out) ? readFileSync(out, 'utf8') : '' };
    }
    beforeAll(async () => {
      outDir = tempDir('jump-wine-out-');
      env = await newWinePrefix('pkg');
    }, 120_000);

    it('jump-client.exe --help runs', async () => {
      const r = await wine([join(PKG, 'win-x64', 'jump-client.exe'), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: jump-client');
      expect(r.stdout).toContain('install');
    });

    it('loads bufferutil natively and node-pty (wine gives ConPTY no output, so the PTY round trip is checked on Linux only)', async () => {
      const r = await wine([join(PKG, 'win-x64', 'jump-client.exe'), 'selftest']);
      const j = selftestJson(r.stdout);
      expect(j).toMatchObject({ platform: 'win32-x64', bufferutil: 'ok' });
      // node-pty loaded and started cmd.exe (an error would be the load or spawn message instead).
      expect(j.pty).toMatch(/^(ok|exit 0, output "")$/);
    });
  });

  it('a second build with nothing changed is skipped', async () => {
    const r = await run(process.execPath, [join(ROOT, 'packaging', 'build.mjs')]);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['linux-x64', 'linux-arm64', 'win-x64']) expect(r.stdout).toContain(`${p}: up to date`);
    expect(r.stdout).not.toContain('inject');
    expect(existsSync(join(PKG, 'linux-x64', 'build.json'))).toBe(true);
  });
});
