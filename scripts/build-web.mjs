#!/usr/bin/env node
/**
 * Builds the web console (issue #19) for `jump-site serve`: every `web/entries/<name>.tsx` (or .ts)
 * becomes `dist/web/assets/<name>.js` (one ES module bundle per page, esbuild, Preact's JSX), and
 * the stylesheets the pages need (web/*.css, xterm's) are copied beside them. The site serves
 * dist/web/assets/ under `/web/assets/` (site/routes/web.ts); nothing is fetched from elsewhere at
 * run time (no CDN), so the strict Content-Security-Policy can say `'self'` only.
 *
 * Run by `npm run build`. Options: --watch (rebuild on change, for development).
 */
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web', 'assets');
mkdirSync(out, { recursive: true });

const entriesDir = join(root, 'web', 'entries');
const entryPoints = existsSync(entriesDir)
  ? readdirSync(entriesDir).filter((f) => /\.(tsx?|jsx?)$/.test(f)).map((f) => join(entriesDir, f))
  : [];

const options = {
  entryPoints,
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

for (const css of existsSync(join(root, 'web')) ? readdirSync(join(root, 'web')).filter((f) => f.endsWith('.css')) : []) {
  copyFileSync(join(root, 'web', css), join(out, css));
}
copyFileSync(join(root, 'node_modules', '@xterm', 'xterm', 'css', 'xterm.css'), join(out, 'xterm.css'));

if (process.argv.includes('--watch')) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else if (entryPoints.length > 0) {
  await esbuild.build(options);
}
