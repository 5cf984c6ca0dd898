/**
 * Wine for the Windows tests (test/e2e/windows*.test.ts, package.test.ts): a fresh prefix per
 * suite, private (0700), with the Windows version set to 10 (Node 20 refuses Windows before 8.1,
 * and wine's default is older), debug output off, and no Mono or Gecko install prompts.
 */
import { chmodSync } from 'node:fs';
import { run, tempDir } from './processes.js';

/**
 * Makes a wine prefix in a new temp dir named `jump-wine-<name>-...` and returns the environment
 * that selects it (WINEPREFIX, WINEDEBUG, WINEDLLOVERRIDES). Throws, with wine's output, when
 * setting the Windows version fails.
 */
export async function newWinePrefix(name: string): Promise<NodeJS.ProcessEnv> {
  const prefix = tempDir(`jump-wine-${name}-`);
  chmodSync(prefix, 0o700);
  const env = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  const r = await run('wine', ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env });
  if (r.code !== 0) throw new Error(`wine reg add HKCU\\Software\\Wine Version win10 exited ${r.code}: ${r.stderr}`);
  return env;
}
