/**
 * Site settings: named values an admin changes while the site runs (issue #18 item 4), kept in the
 * store (table `settings`, canonical text) so that `jump-site settings set ... --data DIR` from
 * another process and `PUT /api/v1/settings/KEY` from the console both reach a running site; the
 * site rereads the table every `SETTINGS_REFRESH_MS`.
 *
 * One registry (`SETTINGS`) says, per key, its kind, default and meaning; every way in (CLI, API)
 * parses through `parseSetting`, so a value is validated once, the same way everywhere. A key that
 * is not in the registry is refused (VALIDATION_FAILED naming the key and the known ones); a
 * stored row for a key this build does not know is ignored (a newer build wrote it).
 *
 * Kinds:
 * - `limit`: a non-negative integer, or `unlimited` (stored as `unlimited`, read as null).
 * - `duration`: a positive duration with its unit, `90s`, `12h`, `180d` (protocol/duration.ts),
 *   stored in its largest whole unit, read in ms.
 */
import type { Logger } from 'pino';
import { formatDuration, parseDuration } from '../protocol/duration.js';
import { JumpError, invalidField } from '../protocol/errors.js';
import type { Store } from './store/store.js';

/** How often a running site rereads the settings table, in ms: a change made elsewhere applies within this. */
export const SETTINGS_REFRESH_MS = 2_000;

interface LimitSetting {
  kind: 'limit';
  /** null: unlimited. */
  default: number | null;
  /** Smallest number accepted (default 0). */
  min?: number;
  description: string;
}

interface DurationSetting {
  kind: 'duration';
  /** ms. */
  default: number;
  /** Accepted range, in ms (default: any positive duration). */
  min?: number;
  max?: number;
  description: string;
}

/** One of a fixed list of words (e.g. `updates.mode` auto|off). */
interface ChoiceSetting {
  kind: 'choice';
  choices: readonly string[];
  default: string;
  description: string;
}

type SettingDef = LimitSetting | DurationSetting | ChoiceSetting;

/** Every setting this site knows: kind, default and what it does (where the rule comes from). */
export const SETTINGS = {
  'jump-clients.max-total': {
    kind: 'limit',
    default: null,
    description:
      'jump clients this site may have deployed (active and passive, online or not); enrollment and installer creation past it are refused (seeds: "The total number of Jump Clients that can be deployed for this site has been reached")',
  },
  'jump-clients.max-active': {
    kind: 'limit',
    default: null,
    description:
      'active jump clients this site may have deployed; enrolling an active one past it, or switching a passive one to active, is refused (seeds: "The number of active Jump Clients has been reached")',
  },
  'jump-clients.passive-interval': {
    kind: 'duration',
    default: 5 * 60_000,
    description:
      'how often a passive jump client checks in (reports its statistics and leaves; ±20 % jitter); a Jump to it waits for its next check-in; listed "passive" until three intervals pass without one',
  },
  'jump-clients.max-offline': {
    kind: 'duration',
    default: 180 * 86_400_000,
    description:
      'a jump client not connected for this long is marked lost, then purged after jump-clients.lost-grace (seeds: 180 days offline: uninstalled from the target machine and removed from the Jump interface); `jump clients edit ID --max-offline` overrides it per client',
  },
  'jump-clients.lost-grace': {
    kind: 'duration',
    default: 7 * 86_400_000,
    description: 'how long a lost jump client stays listed (with its last statistics and its purge date) before it is purged; applies to clients lost after a change',
  },
  // Self-update of jump clients (issue #17, site/updates.ts, docs/updates.md).
  'updates.mode': {
    kind: 'choice',
    choices: ['auto', 'off'],
    default: 'auto',
    description: 'auto: a jump client whose version differs from the build served for its platform (`jump-site builds import`) is offered it; off: none is (they are told to ask again in 10-20 minutes)',
  },
  'updates.paused': {
    kind: 'choice',
    choices: ['no', 'yes'],
    default: 'no',
    description: 'yes: no new update starts (`jump updates pause`); updates in flight go on; clients are told to ask again in 5-10 minutes (`jump updates resume` sets no)',
  },
  'updates.max-concurrent': {
    kind: 'limit',
    default: 500,
    description: 'updates in flight at once (offered and not yet finished, failed or timed out), site-wide; past it clients are told to retry in 30-90 s (the seeds\' vendor: 500)',
  },
  'updates.max-bandwidth': {
    kind: 'limit',
    default: 100,
    min: 1,
    description: 'MiB per second of client builds the site sends, all downloads together (a token bucket)',
  },
  'updates.health-timeout': {
    kind: 'duration',
    default: 120_000,
    min: 5_000,
    max: 3_600_000,
    description: 'a jump client restores its previous version when the new one is not online this long after the swap (sent in each offer; 5s to 1h)',
  },
} as const satisfies Record<string, SettingDef>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The value type of a setting: `limit` → number | null (null: unlimited); `duration` → ms; `choice` → the word. */
export type SettingValue<K extends SettingKey> = (typeof SETTINGS)[K]['kind'] extends 'limit'
  ? number | null
  : (typeof SETTINGS)[K]['kind'] extends 'duration'
    ? number
    : (typeof SETTINGS)[K] extends { choices: readonly (infer C)[] }
      ? C
      : string;

/** One setting as the CLI and the API show it (`GET /api/v1/settings`). */
export interface SettingJson {
  key: SettingKey;
  /** The value in effect, as text (`unlimited`, `500`). */
  value: string;
  default: string;
  /** `set`: stored on the site; `default`: not set. */
  source: 'set' | 'default';
  description: string;
}

/** True when `key` is a setting of this build. */
export function isSettingKey(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(SETTINGS, key);
}

/** The known key `key`, or VALIDATION_FAILED (field `key`) naming the known keys. */
export function settingKey(key: string): SettingKey {
  if (isSettingKey(key)) return key;
  throw invalidField('key', `"${key}" is not a setting of this site. Fix: use one of ${SETTING_KEYS.join(', ')} (\`jump-site settings list\`).`);
}

/**
 * Parses `text` for `key` into its canonical text. Throws VALIDATION_FAILED (field: the key)
 * naming the accepted form, e.g. `jump-clients.max-total: "-1" is not a limit. Fix: give a whole
 * number (0 or more) or unlimited.`
 */
export function parseSetting(key: SettingKey, text: string): string {
  const def: SettingDef = SETTINGS[key];
  const t = text.trim();
  switch (def.kind) {
    case 'limit': {
      const min = def.min ?? 0;
      if (t.toLowerCase() === 'unlimited') return 'unlimited';
      if (/^\d{1,9}$/.test(t) && Number(t) >= min) return String(Number(t));
      throw invalidField(key, `"${text}" is not a limit. Fix: give a whole number (${min} or more, at most 999999999) or unlimited.`);
    }
    case 'duration': {
      const ms = parseDuration(t);
      if (ms !== null && ms >= (def.min ?? 0) && ms <= (def.max ?? Number.MAX_SAFE_INTEGER)) return formatDuration(ms);
      const range = def.min !== undefined || def.max !== undefined ? ` between ${formatDuration(def.min ?? 1)} and ${def.max !== undefined ? formatDuration(def.max) : 'any'}` : '';
      throw invalidField(key, `"${text}" is not a duration${range}. Fix: give a positive number with its unit${range}, e.g. 90s, 12h or 180d (ms, s, m, h, d).`);
    }
    case 'choice': {
      const w = t.toLowerCase();
      if (def.choices.includes(w)) return w;
      throw invalidField(key, `"${text}" is not one of ${def.choices.join(', ')}. Fix: give ${def.choices.join(' or ')}.`);
    }
  }
}

function defaultText(key: SettingKey): string {
  const def: SettingDef = SETTINGS[key];
  if (def.kind === 'duration') return formatDuration(def.default);
  if (def.kind === 'choice') return def.default;
  return def.default === null ? 'unlimited' : String(def.default);
}

function typed<K extends SettingKey>(key: K, text: string): SettingValue<K> {
  const def: SettingDef = SETTINGS[key];
  switch (def.kind) {
    case 'limit':
      return (text === 'unlimited' ? null : Number(text)) as SettingValue<K>;
    case 'duration':
      return parseDuration(text) as SettingValue<K>;
    case 'choice':
      return text as SettingValue<K>;
  }
}

/**
 * The settings in effect on a running site: the stored values over the defaults, reread from the
 * store every `SETTINGS_REFRESH_MS` (`watch`), so `jump-site settings set` in another process
 * applies within seconds. Reads are synchronous and cheap (hot paths such as enrollment use them).
 */
export class SiteSettings {
  private stored = new Map<SettingKey, string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<Store, 'listSettings' | 'putSetting' | 'audit'>,
    private readonly log?: Logger,
  ) {}

  /** Reads the stored values (call once before use; `watch` repeats it). */
  async load(): Promise<void> {
    const next = new Map<SettingKey, string>();
    for (const row of await this.store.listSettings()) {
      if (!isSettingKey(row.key)) continue; // written by a newer build
      try {
        next.set(row.key, parseSetting(row.key, row.value));
      } catch {
        this.log?.warn({ key: row.key }, 'stored setting is not valid for this build; using its default');
      }
    }
    for (const [k, v] of next) if (this.stored.get(k) !== v) this.log?.info({ key: k, value: v }, 'setting changed');
    this.stored = next;
  }

  /** Rereads the store every `intervalMs` until `close()`; the timer does not hold the process open. */
  watch(intervalMs = SETTINGS_REFRESH_MS): void {
    this.timer = setInterval(() => {
      this.load().catch((err: unknown) => this.log?.warn({ err }, 'settings not reread'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the rereading `watch` started; idempotent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The value in effect for `key` (a limit: a number, or null for unlimited). */
  get<K extends SettingKey>(key: K): SettingValue<K> {
    return typed(key, this.stored.get(key) ?? defaultText(key));
  }

  /** Every setting, in registry order, as the CLI and API show them. */
  list(): SettingJson[] {
    return SETTING_KEYS.map((key) => this.json(key));
  }

  /** One setting as the CLI and API show it: the value in effect, its default, and whether it was set. */
  json(key: SettingKey): SettingJson {
    const set = this.stored.get(key);
    return { key, value: set ?? defaultText(key), default: defaultText(key), source: set === undefined ? 'default' : 'set', description: SETTINGS[key].description };
  }

  /**
   * Validates and stores `text` for `key` (null: back to the default), audits it as `by`
   * (a user id, or null for `jump-site settings` on the site host), and applies it at once here.
   * Throws VALIDATION_FAILED for an unknown key or a bad value; nothing is stored then.
   */
  async set(key: string, text: string | null, by: { userId: number | null; via: string }, now = Date.now()): Promise<SettingJson> {
    const k = settingKey(key);
    const value = text === null ? null : parseSetting(k, text);
    await this.store.putSetting(k, value, now);
    await this.store.audit({ at: now, userId: by.userId, action: 'setting.set', target: `setting:${k}`, detail: `${value ?? `default (${defaultText(k)})`} via ${by.via}` });
    if (value === null) this.stored.delete(k);
    else this.stored.set(k, value);
    return this.json(k);
  }
}

/** Throws `code` when one more of something is past `limit` (null: unlimited) with `count` existing. */
export function checkLimit(limit: number | null, count: number, code: 'DEPLOY_LIMIT_REACHED' | 'DEPLOY_ACTIVE_LIMIT_REACHED' | 'ACTIVE_LIMIT_REACHED', detail: string): void {
  if (limit !== null && count >= limit) throw new JumpError(code, { detail });
}
