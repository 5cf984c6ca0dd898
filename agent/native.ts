/**
 * What the agent knows about how it was shipped.
 *
 * The packaged `jump-client` is a Node single executable (SEA, docs/packaging.md). Its native
 * add-ons (node-pty, bufferutil) cannot live inside it: they ship beside it in
 * `<dir of the executable>/lib/node_modules/`, and the bundle's `require` of them is rewritten at
 * build time to load from there (packaging/build.mjs, the "sidecar" plugin).
 */
import { dirname } from 'node:path';
import sea from 'node:sea';

/** True when running as the packaged single executable. */
export function isPackaged(): boolean {
  return sea.isSea();
}

/** The directory of the running executable: an install dir, or the .bin's temp dir while installing. */
export function packageDir(): string {
  return dirname(process.execPath);
}
