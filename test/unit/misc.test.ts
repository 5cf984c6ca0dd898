import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { statsDelta } from '../../agent/stats.js';
import { formatDuration, parseDuration } from '../../protocol/duration.js';
import { ERROR_CATALOG, ERROR_CODES, JumpError, isErrorCode } from '../../protocol/errors.js';
import { commentsField, nameField, sharedGroupName, tagField, userName } from '../../protocol/fields.js';
import { VERSION } from '../../protocol/version.js';
import { hashPassword, hashToken, newToken, verifyPassword } from '../../site/auth.js';
import { installerRefusal, newKeyInfo } from '../../site/installers.js';
import { fixtureStats } from '../helpers/site.js';

describe('durations', () => {
  it('parses the units people type and refuses the rest', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBeNull();
    expect(parseDuration('0s')).toBeNull();
    expect(parseDuration('soon')).toBeNull();
    expect(formatDuration(604_800_000)).toBe('7d');
    expect(formatDuration(90_000)).toBe('90s');
  });
});

describe('error catalog', () => {
  it('gives every code an action, an HTTP status and a message', () => {
    for (const code of ERROR_CODES) {
      const row = ERROR_CATALOG[code];
      expect(row.message.length).toBeGreaterThan(10);
      expect(row.status).toBeGreaterThanOrEqual(400);
      expect(row.action).toBeTruthy();
    }
  });

  it('carries code, field and detail', () => {
    const e = new JumpError('VALIDATION_FAILED', { field: 'tag', detail: 'tag: too long' });
    expect(e.toJSON()).toEqual({ code: 'VALIDATION_FAILED', message: 'A field has an invalid value. tag: too long', field: 'tag' });
    expect(e.status).toBe(400);
    expect(isErrorCode('JUMP_CLIENT_OFFLINE')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});

describe('field rules (seeds: Name 128, Tag 64, Comments 1024)', () => {
  it('holds the limits exactly', () => {
    expect(nameField.safeParse('n'.repeat(128)).success).toBe(true);
    expect(nameField.safeParse('n'.repeat(129)).success).toBe(false);
    expect(nameField.safeParse('').success).toBe(false);
    expect(tagField.safeParse('').success).toBe(true);
    expect(tagField.safeParse('t'.repeat(65)).success).toBe(false);
    expect(commentsField.safeParse('line 1\nline 2').success).toBe(true);
    expect(commentsField.safeParse('c'.repeat(1025)).success).toBe(false);
    expect(nameField.safeParse('bell\u0007').success).toBe(false);
  });

  it('reserves user: for personal groups and checks user names', () => {
    expect(sharedGroupName.safeParse('Linux Admins').success).toBe(true);
    expect(sharedGroupName.safeParse('user:bob').success).toBe(false);
    expect(userName.safeParse('j.smith').success).toBe(true);
    expect(userName.safeParse('-x').success).toBe(false);
  });
});

describe('secrets', () => {
  it('hashes passwords with scrypt and verifies them', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^scrypt\$17\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('wrong horse battery', h)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('makes tokens and installer keys of the documented shape', () => {
    const t = newToken();
    expect(t.token).toMatch(/^jst_[A-Za-z0-9_-]{43}$/);
    expect(t.hash).toBe(hashToken(t.token));
    const keys = new Set(Array.from({ length: 100 }, newKeyInfo));
    expect(keys.size).toBe(100);
    for (const k of keys) expect(k).toMatch(/^[a-z0-9]{47}$/);
  });
});

describe('installer validity', () => {
  const base = { revokedAt: null, expiresAt: 2000, maxUses: 2, uses: 0 };
  it('refuses revoked, then expired, then used up', () => {
    expect(installerRefusal(base, 1000)).toBeNull();
    expect(installerRefusal({ ...base, uses: 2 }, 1000)).toBe('INSTALLER_USED_UP');
    expect(installerRefusal({ ...base, uses: 2 }, 2000)).toBe('INSTALLER_EXPIRED');
    expect(installerRefusal({ ...base, uses: 2, revokedAt: 1 }, 2000)).toBe('INSTALLER_REVOKED');
  });
});

describe('statistics delta', () => {
  it('holds only changed fields, comparing arrays by value', () => {
    const a = fixtureStats();
    expect(statsDelta(a, { ...a, private_ips: [...a.private_ips] })).toEqual({});
    expect(statsDelta(a, { ...a, console_user: 'eve', cpu_load_pct: 40 })).toEqual({ console_user: 'eve', cpu_load_pct: 40 });
  });
});

it('keeps VERSION equal to package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  expect(VERSION).toBe(pkg.version);
});

it('keeps docs/errors.md equal to the catalog', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const code of ERROR_CODES) {
    const row = ERROR_CATALOG[code];
    expect(doc).toContain(`| \`${code}\` | ${row.action} | ${row.status} | ${row.message} |`);
  }
});
