/**
 * The authorization matrix printed in the docs is the one the matrix suite asserts
 * (authz-table.ts): docs/security.md.
 * On a mismatch, paste the expected text (printed below) between the markers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';
import { TABLE_END, TABLE_START, authzMarkdown } from './authz-table.js';

/** The generated block of `file` (from TABLE_START to TABLE_END), or null when it has none. */
function printed(file: string): string | null {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(TABLE_START);
  const b = text.indexOf(TABLE_END);
  return a < 0 || b < a ? null : text.slice(a, b + TABLE_END.length);
}

describe('the authorization matrix in the docs', () => {
  it('is the table the matrix suite asserts, cell for cell', () => {
    const docs = ['docs/security.md'].map((f) => join(ROOT, f));
    const found = docs.map(printed).filter((t): t is string => t !== null);
    expect(found.length, `no generated authz table in ${docs.join(' or ')}; paste:\n${authzMarkdown()}`).toBeGreaterThan(0);
    for (const t of found) expect(t, `paste this between the markers:\n${authzMarkdown()}`).toBe(authzMarkdown());
  });
});
