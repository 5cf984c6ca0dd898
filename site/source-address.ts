/**
 * What per-address limits count (the TLS gate, site/tls-gate.ts; login throttling, site/auth.ts):
 * one IPv4 address, or one IPv6 /64, the unit one subscriber usually gets (RFC 6177), so an
 * attacker cannot multiply their budget by walking the addresses of their own prefix.
 */

/**
 * The unit a per-address limit counts: the IPv4 address (also when written IPv4-mapped,
 * `::ffff:a.b.c.d`), or the first four groups (/64) of an IPv6 address.
 */
export function addressKey(address: string): string {
  const a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  if (!a.includes(':')) return a;
  const [head, tail = ''] = a.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

