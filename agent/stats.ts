/**
 * The statistics a jump client reports (seeds: the Jump interface's statistics pane, and the search
 * fields Console User, Domain Group, Private IP, Workgroup), read with systeminformation.
 *
 * Volatile figures are quantised so that "send when something changes" does not mean "send every
 * time": CPU load to 5 points, memory and disk use to 1 % of their totals; uptime is reported as
 * the boot time, which does not move. The public IP is what the site sees, not reported here.
 */
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces, totalmem, uptime } from 'node:os';
import si from 'systeminformation';
import type { Stats, StatsDelta } from '../protocol/messages.js';
import { VERSION } from '../protocol/version.js';

/** Produces a full statistics snapshot. The fleet simulator injects its own. */
export type StatsProvider = () => Promise<Stats>;

const clip = (s: string | null | undefined, max: number) => (s ?? '').slice(0, max);

function quantise(used: number, total: number): number {
  if (total <= 0) return used;
  const step = total / 100;
  return Math.min(total, Math.round(Math.round(used / step) * step));
}

/** The Samba workgroup of a Linux machine, or null when there is none. */
function sambaWorkgroup(): string | null {
  try {
    const m = /^\s*workgroup\s*=\s*(\S+)/im.exec(readFileSync('/etc/samba/smb.conf', 'utf8'));
    return m ? m[1].slice(0, 64) : null;
  } catch {
    return null;
  }
}

/** The user at the machine's console (a local display or virtual terminal), or null when nobody is. */
function consoleUser(users: si.Systeminformation.UserData[]): string | null {
  const local = users.find((u) => /^(:\d|tty|console|seat)/.test(u.tty ?? ''));
  return local ? clip(local.user, 64) : null;
}

/** Interface addresses from Node itself (no subprocess): non-internal IPv4, and IPv6 that is not link-local. */
function privateIps(): string[] {
  const ips = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' || !a.address.startsWith('fe80')) ips.add(a.address);
    }
  }
  return [...ips].slice(0, 64);
}

type StaticStats = Pick<Stats, 'hostname' | 'fqdn' | 'os_name' | 'os_version' | 'platform' | 'arch' | 'cpu_model' | 'cpu_cores' | 'mem_total_bytes'>;

/** How long the slow-changing part (OS, CPU model, FQDN) is reused before it is read again, in ms. */
const STATIC_TTL_MS = 30 * 60_000;

let cachedStatic: { at: number; value: Promise<StaticStats> } | null = null;

/** OS release, CPU model, FQDN: expensive to read (subprocesses), rarely changing. */
function staticStats(): Promise<StaticStats> {
  if (cachedStatic && Date.now() - cachedStatic.at < STATIC_TTL_MS) return cachedStatic.value;
  const value = Promise.all([si.osInfo(), si.cpu()]).then(([os, cpu]) => {
    const fqdn = clip(os.fqdn || os.hostname || hostname(), 255);
    return {
      hostname: clip(os.hostname || hostname(), 255),
      fqdn,
      os_name: clip(os.distro || os.platform, 128),
      os_version: clip(os.release, 128),
      platform: clip(os.platform, 32),
      arch: clip(os.arch, 32),
      cpu_model: clip(`${cpu.manufacturer} ${cpu.brand}`.trim(), 128),
      cpu_cores: cpu.cores,
      mem_total_bytes: totalmem(),
    };
  });
  value.catch(() => {
    cachedStatic = null;
  });
  cachedStatic = { at: Date.now(), value };
  return value;
}

/**
 * Reads this machine's statistics. The slow-changing part is cached for 30 minutes; interface
 * addresses, boot time and memory total come from Node's `os` module; console user, load, memory
 * and disk use from systeminformation. A source that fails yields an empty value, never an error.
 */
export async function collectStats(): Promise<Stats> {
  const [fixed, users, load, mem, disks] = await Promise.all([
    staticStats(),
    si.users().catch(() => []),
    si.currentLoad().catch(() => ({ currentLoad: 0 })),
    si.mem().catch(() => ({ active: 0, total: totalmem() })),
    si.fsSize().catch(() => []),
  ]);
  const root = disks.find((d) => d.mount === '/') ?? disks.find((d) => /^[A-Z]:/i.test(d.mount)) ?? disks[0];
  const dot = fixed.fqdn.indexOf('.');
  return {
    ...fixed,
    hostname: clip(hostname(), 255) || fixed.hostname,
    private_ips: privateIps(),
    console_user: consoleUser(users),
    domain: dot > 0 ? fixed.fqdn.slice(dot + 1) : null,
    workgroup: sambaWorkgroup(),
    cpu_load_pct: Math.min(100, Math.round((load.currentLoad || 0) / 5) * 5),
    mem_used_bytes: quantise(mem.active, fixed.mem_total_bytes),
    disk_total_bytes: root?.size ?? 0,
    disk_used_bytes: quantise(root?.used ?? 0, root?.size ?? 0),
    // Rounded to 10 s so clock jitter between two reads does not look like a change.
    boot_time: Math.round((Date.now() - uptime() * 1000) / 10_000) * 10_000,
    agent_version: VERSION,
  };
}

/** The fields of `next` that differ from `prev` (arrays compared by value). Empty when nothing changed. */
export function statsDelta(prev: Stats, next: Stats): StatsDelta {
  const delta: Record<string, unknown> = {};
  for (const k of Object.keys(next) as (keyof Stats)[]) {
    const a = prev[k];
    const b = next[k];
    const same = Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
    if (!same) delta[k] = b;
  }
  return delta as StatsDelta;
}
