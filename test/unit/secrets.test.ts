import { describe, expect, it } from 'vitest';
import { hashPassword, hashToken, newToken, verifyPassword } from '../../site/auth.js';
import { newKeyInfo } from '../../site/installers.js';

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
