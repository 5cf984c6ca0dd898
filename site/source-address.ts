/**
 * What per-address limits count (the TLS gate, site/tls-gate.ts; login throttling, site/auth.ts):
 * one IPv4 address, or one IPv6 /56, the prefix most providers give one subscriber (RFC 6177
 * recommends /48 to /56), so an attacker cannot multiply their budget by walking the /64s of
 * their own prefix.
 */

/**
 * The unit a per-address limit counts: the IPv4 address (also when written IPv4-mapped,
 * `::ffff:a.b.c.d`), or the first 56 bits of an IPv6 address, written `2001:db8:1:200::/56`.
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
  const first = groups.slice(0, 3).map((g) => (parseInt(g, 16) || 0).toString(16));
  const fourth = ((parseInt(groups[3] ?? '0', 16) || 0) & 0xff00).toString(16);
  return `${[...first, fourth].join(':')}::/56`;
}

