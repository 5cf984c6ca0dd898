import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, ERROR_CODES, JumpError, isErrorCode } from '../../protocol/errors.js';

describe('error catalog', () => {
  it('gives every code an HTTP error status and a message', () => {
    for (const code of ERROR_CODES) {
      const row = ERROR_CATALOG[code];
      expect(row.message.length).toBeGreaterThan(10);
      expect(row.status).toBeGreaterThanOrEqual(400);
    }
  });

  it('carries code, field and detail', () => {
    const e = new JumpError('VALIDATION_FAILED', { field: 'tag', detail: 'tag: too long' });
    expect(e.toJSON()).toEqual({ code: 'VALIDATION_FAILED', message: 'tag: too long', field: 'tag' });
    expect(e.status).toBe(400);
    expect(isErrorCode('JUMP_CLIENT_OFFLINE')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});

it('keeps docs/errors.md equal to the catalog', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const code of ERROR_CODES) {
    const row = ERROR_CATALOG[code];
    expect(doc).toContain(`| \`${code}\` | ${row.action} | ${row.status} | ${row.message} |`);
  }
});
