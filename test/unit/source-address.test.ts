import { describe, expect, it } from 'vitest';
import { addressKey } from '../../site/source-address.js';

describe('addressKey (what the TLS gate and login throttling count per source)', () => {
  it('keeps IPv4 and unwraps IPv4-mapped IPv6', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });
  it('counts IPv6 per /56, however the address is written', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:0::/56');
    expect(addressKey('2001:db8:1:2ff::9')).toBe(addressKey('2001:0db8:0001:0201:ffff::1'));
    expect(addressKey('2001:db8:1:2ff::9')).toBe('2001:db8:1:200::/56');
    expect(addressKey('2001:DB8::1')).toBe('2001:db8:0:0::/56');
    expect(addressKey('::1')).toBe('0:0:0:0::/56');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/56');
    // Walking the /64s of one /56 does not give an attacker more budget; another /56 is another key.
    expect(addressKey('2001:db8:1:17::1')).toBe(addressKey('2001:db8:1:42::1'));
    expect(addressKey('2001:db8:1:100::1')).not.toBe(addressKey('2001:db8:1:200::1'));
  });
});
