import { describe, expect, it } from 'vitest';
import { installerRefusal } from '../../site/installers.js';

describe('installer validity', () => {
  const base = { revokedAt: null, expiresAt: 2000, maxUses: 2, uses: 0 };
  it('refuses revoked, then expired, then used up', () => {
    expect(installerRefusal(base, 1000)).toBeNull();
    expect(installerRefusal({ ...base, uses: 2 }, 1000)).toBe('INSTALLER_USED_UP');
    expect(installerRefusal({ ...base, uses: 2 }, 2000)).toBe('INSTALLER_EXPIRED');
    expect(installerRefusal({ ...base, uses: 2, revokedAt: 1 }, 2000)).toBe('INSTALLER_REVOKED');
  });
});
