/**
 * The worker thread that writes one installer file for `buildInstallerFile` (site/installers.ts).
 * The writers (protocol/installer-files/) gzip ~90 MB synchronously in chunks and run msibuild with
 * spawnSync: on the site's main thread that stalled its event loop for up to half a second at a
 * time (every agent connection, TLS handshake and API call waited). Here they stall only this thread.
 *
 * workerData: InstallerFileJob. Posts one InstallerFileResult and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeBinInstaller, type BinPlatform } from '../protocol/installer-files/bin-file.js';
import { writeExeInstaller } from '../protocol/installer-files/exe-file.js';
import { writeSiteMsi } from '../protocol/installer-files/msi-file.js';
import type { CodeSigning } from '../protocol/code-signing.js';
import type { Stamp } from '../protocol/stamp.js';
import type { InstallerFilePlatform } from './installers.js';

/** What to write: the platform, the package folder, the stamp (or the site's URL and pin for the MSI) and the output folder. */
export interface InstallerFileJob {
  platform: InstallerFilePlatform;
  packageDir: string;
  outDir: string;
  stamp: Stamp;
  /** The code-signing certificate for the Windows files (`jump-site serve --sign-cert`), or null: unsigned. */
  signing: CodeSigning | null;
}

/** The written file (path, size in bytes), or the writer's error message. */
export type InstallerFileResult = { ok: true; path: string; bytes: number } | { ok: false; message: string };

async function run(job: InstallerFileJob): Promise<InstallerFileResult> {
  try {
    const file =
      job.platform === 'windows-x64-msi'
        ? await writeSiteMsi(job.packageDir, job.stamp.site_url, job.stamp.site_pin, job.outDir, job.signing)
        : job.platform === 'windows-x64-exe'
          ? await writeExeInstaller(job.packageDir, job.stamp, job.outDir, job.signing)
          : await writeBinInstaller(job.packageDir, job.stamp, job.outDir, job.platform as BinPlatform);
    return { ok: true, ...file };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

if (parentPort) parentPort.postMessage(await run(workerData as InstallerFileJob));
