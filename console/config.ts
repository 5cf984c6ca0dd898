/**
 * The console's stored logins, one per site URL, in `$JUMP_CONFIG_DIR/config.json` (default: the
 * user's config dir, e.g. ~/.config/jump). Mode 0600: it holds API tokens.
 */
import Conf from 'conf';

export interface SiteLogin {
  user: string;
  token: string;
  /** The pinned certificate (PEM) of a site whose certificate no public authority signed. */
  cert_pem: string | null;
  fingerprint: string | null;
}

/** A site's pinned certificate, kept after logout (like an ssh known_hosts entry). */
export interface SitePin {
  cert_pem: string | null;
  fingerprint: string | null;
}

interface ConsoleConfigData {
  current?: string;
  sites: Record<string, SiteLogin>;
  /** Pins by site URL; written at every login, kept by logout. Older configs have none. */
  pins?: Record<string, SitePin>;
}

export class ConsoleConfig {
  private readonly conf: Conf<ConsoleConfigData>;

  constructor(dir = process.env.JUMP_CONFIG_DIR) {
    this.conf = new Conf<ConsoleConfigData>({
      projectName: 'jump',
      projectSuffix: '',
      cwd: dir || undefined,
      configFileMode: 0o600,
      // Site URLs contain dots; they are keys, not paths.
      accessPropertiesByDotNotation: false,
      defaults: { sites: {} },
    });
  }

  get path(): string {
    return this.conf.path;
  }

  /** The login for `siteUrl`, or for the current site when not given. */
  login(siteUrl?: string): { url: string; login: SiteLogin } | null {
    const url = normalizeSiteUrl(siteUrl ?? this.conf.get('current') ?? '');
    const login = url ? this.conf.get('sites')[url] : undefined;
    return login ? { url, login } : null;
  }

  /** The URL of the current site (the last one logged in to), or null. */
  current(): string | null {
    return this.conf.get('current') || null;
  }

  /** The certificate pinned for `siteUrl` by the last login there (even after logout), or null. */
  pin(siteUrl: string): SitePin | null {
    const url = normalizeSiteUrl(siteUrl);
    const pin = this.conf.get('pins')?.[url] ?? this.conf.get('sites')[url];
    return pin ? { cert_pem: pin.cert_pem, fingerprint: pin.fingerprint } : null;
  }

  save(siteUrl: string, login: SiteLogin): void {
    const url = normalizeSiteUrl(siteUrl);
    this.conf.set('sites', { ...this.conf.get('sites'), [url]: login });
    this.conf.set('pins', { ...(this.conf.get('pins') ?? {}), [url]: { cert_pem: login.cert_pem, fingerprint: login.fingerprint } });
    this.conf.set('current', url);
  }

  /** Forgets the login (token) for `siteUrl`; its certificate pin is kept. */
  remove(siteUrl: string): void {
    const url = normalizeSiteUrl(siteUrl);
    const sites = { ...this.conf.get('sites') };
    delete sites[url];
    this.conf.set('sites', sites);
    if (this.conf.get('current') === url) this.conf.delete('current');
  }
}

/**
 * `https://Host:8443/` -> `https://host:8443`; `host:8443` (no scheme) is read as
 * `https://host:8443`. Returns '' for something that is not an https URL.
 */
export function normalizeSiteUrl(s: string): string {
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
    if (u.protocol !== 'https:') return '';
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '';
  }
}
