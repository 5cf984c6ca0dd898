import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, ERROR_CODES, JumpError, isErrorCode } from '../../protocol/errors.js';

describe('error catalog', () => {
  it('gives every code an HTTP error status and a message', () => {
    for (const code of ERROR_CODES) {
      const row = ERROR_CATALOG[code];
      expect(row.message.length).toBeGreaterThan(10);
      expect(row.fix.length, `${code} has a fix`).toBeGreaterThan(5);
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

  it('reads CODE: what [detail] Fix: command, and a detail with its own fix replaces the catalog one', () => {
    expect(new JumpError('JUMP_CLIENT_NOT_FOUND').message).toBe('The jump client does not exist. Fix: find it with `jump clients --search TEXT`.');
    expect(new JumpError('JUMP_CLIENT_NOT_FOUND', { detail: '(web-01)' }).message).toBe('The jump client does not exist. (web-01) Fix: find it with `jump clients --search TEXT`.');
    const own = new JumpError('LOCAL_PORT_IN_USE', { detail: '(127.0.0.1:22). Fix: choose another LOCALPORT.' });
    expect(own.message).toBe('The local port of the tunnel is already in use by another program. (127.0.0.1:22). Fix: choose another LOCALPORT.');
    expect(own.message.match(/Fix:/g)).toHaveLength(1);
  });
});

it('keeps docs/errors.md equal to the catalog', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const code of ERROR_CODES) {
    const row = ERROR_CATALOG[code];
    expect(doc).toContain(`| \`${code}\` | ${row.action} | ${row.status} | ${row.message} | ${row.fix} | ${'seeds' in row ? row.seeds : ''} |`);
  }
});
