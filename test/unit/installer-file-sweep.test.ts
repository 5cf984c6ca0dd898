/**
 * Installer files hold KEY_INFO: the temp dirs a crashed or killed site left are removed when a
 * site starts (site/installers.ts sweepInstallerFileTemp), and only those: this user's, older than
 * an hour (another site on the machine may be building one now). Real dirs, real mtimes.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepInstallerFileTemp } from '../../site/installers.js';

const root = mkdtempSync(join(tmpdir(), 'jump-sweep-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('sweepInstallerFileTemp', () => {
  it('removes the installer-file temp dirs older than an hour, and nothing else', () => {
    const now = Date.now();
    const old = join(root, 'jump-installer-file-old');
    const fresh = join(root, 'jump-installer-file-fresh');
    const other = join(root, 'jump-something-else');
    for (const d of [old, fresh, other]) {
      mkdirSync(d);
      writeFileSync(join(d, 'bomgar-scc-0123456789abcdef.bin'), 'KEY_INFO inside');
    }
    const twoHoursAgo = (now - 2 * 3_600_000) / 1000;
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    utimesSync(other, twoHoursAgo, twoHoursAgo);
    expect(sweepInstallerFileTemp(now, root)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(sweepInstallerFileTemp(now, join(root, 'missing'))).toBe(0);
  });
});
