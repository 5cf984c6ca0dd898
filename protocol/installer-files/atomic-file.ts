/**
 * Writing an installer file whole or not at all: the content goes to `<final>.partial-<pid>`,
 * built from a private staging dir, and is renamed into place only when complete. A failure
 * removes the partial file and the staging dir and rethrows, so `outDir` never holds half a file.
 */
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** Runs `fill(partial, staging)`, then renames `partial` to `final`. Returns its path and size in bytes. */
export async function writeWhole(final: string, fill: (partial: string, staging: string) => Promise<void>): Promise<{ path: string; bytes: number }> {
  const partial = `${final}.partial-${process.pid}`;
  const staging = mkdtempSync(`${tmpdir()}/jump-installer-`);
  try {
    await fill(partial, staging);
    renameSync(partial, final);
    return { path: final, bytes: statSync(final).size };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
