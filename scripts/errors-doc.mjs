/**
 * Rewrites the table of docs/errors.md from the catalog in protocol/errors.ts (via dist/, so run
 * `npm run build` first): `npm run docs:errors`. test/unit/errors.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../dist/protocol/errors.js';

const file = new URL('../docs/errors.md', import.meta.url);
const doc = readFileSync(file, 'utf8').split('\n');
const start = doc.findIndex((l) => l.startsWith('| code |'));
if (start < 0) throw new Error('docs/errors.md has no "| code |" table header');
let end = start + 2;
while (end < doc.length && doc[end].startsWith('| `')) end++;
const rows = Object.entries(ERROR_CATALOG).map(([code, r]) => `| \`${code}\` | ${r.action} | ${r.status} | ${r.message} | ${r.fix} | ${r.seeds ?? ''} |`);
doc.splice(start, end - start, '| code | action | HTTP | message | fix | seeds |', '| --- | --- | --- | --- | --- | --- |', ...rows);
writeFileSync(file, doc.join('\n'));
console.log(`docs/errors.md: ${rows.length} codes`);
