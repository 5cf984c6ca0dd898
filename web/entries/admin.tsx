/**
 * `/login` (issue #19 item 1; seeds: the /login administrative interface): sign-in with the site's
 * users and passwords (the same `POST /api/v1/login` as the CLI, throttled alike; a forced password
 * change is asked for first), then the tabs STATUS and MY ACCOUNT for everyone, and JUMP CLIENTS
 * (installers and the Jump Client Mass Deployment Wizard), USERS and JUMP GROUPS for admins. The
 * site refuses the admin routes to anyone else; the page only hides what would be refused.
 */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { ApiInstaller, ApiInstallerCreated, ApiJumpClientList, ApiJumpGroup, ApiSession, ApiUser } from '../../protocol/api.js';
import { ApiError, api, apiDownload, browserPlatform } from '../api.js';
import { ErrorLine, signOut, summaryLine, when } from '../common.js';
import { t, useLang } from '../i18n/index.js';
import { LanguageSelect } from '../i18n/select.js';

type Tab = 'status' | 'account' | 'clients' | 'users' | 'groups';

function App() {
  const [me, setMe] = useState<ApiUser | null | undefined>(undefined);
  const refresh = useCallback(() => {
    api<{ user: ApiUser }>('GET', '/api/v1/me', undefined, { noRedirect: true }).then(
      (r) => setMe(r.user),
      () => setMe(null),
    );
  }, []);
  useEffect(refresh, [refresh]);
  useLang(); // re-renders the page in the new language
  if (me === undefined) return <p class="loading">{t('common.loading')}</p>;
  if (me === null) return <SignIn onSignedIn={refresh} />;
  if (me.password_change_required) return <ForcedPassword me={me} onDone={refresh} />;
  return <Admin me={me} />;
}

/** Where to go after signing in: `next` when it is a path of this site, else stay on /login. */
function nextPath(): string | null {
  const n = new URLSearchParams(location.search).get('next');
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : null;
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const reason = new URLSearchParams(location.search).get('reason');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ user: ApiUser; password_change_required?: boolean }>('POST', '/api/v1/login', { user, password }, { noRedirect: true });
      const next = nextPath();
      if (next && !r.password_change_required) location.assign(next);
      else onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Jump Client</h1>
      <LanguageSelect />
      {reason && (
        <p class="notice" role="status">
          {reason}
        </p>
      )}
      <form onSubmit={submit}>
        <label>
          {t('admin.username')}
          <input name="user" autocomplete="username" value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('admin.password')}
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <ErrorLine error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {t('common.signIn')}
        </button>
      </form>
    </main>
  );
}

function ForcedPassword({ me, onDone }: { me: ApiUser; onDone: () => void }) {
  return (
    <main class="signin">
      <h1>{t('admin.changeYourPassword')}</h1>
      <LanguageSelect />
      <p class="notice">{t('admin.mustChange', { name: me.name })}</p>
      <PasswordForm onDone={onDone} />
    </main>
  );
}

/** MY ACCOUNT's form: `POST /api/v1/me/password` (the cookie gets the fresh token). */
function PasswordForm({ onDone }: { onDone?: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(false);
    if (next !== again) return setError(new Error(t('admin.passwordsDiffer')));
    try {
      await api('POST', '/api/v1/me/password', { current_password: current, new_password: next }, { noRedirect: true });
      setError(null);
      setDone(true);
      setCurrent('');
      setNext('');
      setAgain('');
      onDone?.();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="password" onSubmit={submit}>
      <label>
        {t('admin.currentPassword')}
        <input name="current_password" type="password" autocomplete="current-password" value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        {t('admin.newPassword')}
        <input name="new_password" type="password" autocomplete="new-password" value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        {t('admin.newPasswordAgain')}
        <input name="new_password_again" type="password" autocomplete="new-password" value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
      </label>
      <ErrorLine error={error} />
      {done && <p class="ok">{t('admin.passwordChanged')}</p>}
      <button type="submit" class="primary">
        {t('admin.changePassword')}
      </button>
    </form>
  );
}

function Admin({ me }: { me: ApiUser }) {
  const admin = me.role === 'admin';
  const [tab, setTab] = useState<Tab>(admin ? 'clients' : 'status');
  const tabs: [Tab, string][] = [
    ['status', t('admin.tab.status')],
    ['account', t('admin.tab.account')],
    ...(admin
      ? ([
          ['clients', t('admin.tab.clients')],
          ['users', t('admin.tab.users')],
          ['groups', t('admin.tab.groups')],
        ] as [Tab, string][])
      : []),
  ];
  return (
    <div class="admin-app">
      <header class="topbar">
        <strong>Jump Client /login</strong>
        <nav class="tabs" role="tablist">
          {tabs.map(([t, label]) => (
            <a key={t} href="#" role="tab" aria-selected={tab === t} class={tab === t ? 'sel' : ''} onClick={(e) => (e.preventDefault(), setTab(t))}>
              {label}
            </a>
          ))}
          <a href="/web/reports">{t('admin.tab.reports')}</a>
          <a href="/web/">{t('common.jumpInterface')}</a>
        </nav>
        <span class="who">
          {me.name} ({t(`role.${me.role}`, { defaultValue: me.role })}){' '}
          <LanguageSelect />
          <button type="button" onClick={() => void signOut()}>
            {t('common.signOut')}
          </button>
        </span>
      </header>
      <main class="tab-body">
        {tab === 'status' && <Status />}
        {tab === 'account' && (
          <section>
            <h2>{t('admin.myAccount')}</h2>
            <p>
              {t('common.signedInAs')} <b>{me.name}</b>, {t(`role.${me.role}`, { defaultValue: me.role })}
              {me.view_personal_groups ? t('admin.mayViewPersonal') : ''}.
            </p>
            <PasswordForm />
          </section>
        )}
        {tab === 'clients' && admin && <JumpClients />}
        {tab === 'users' && admin && <Users me={me} />}
        {tab === 'groups' && admin && <Groups />}
      </main>
    </div>
  );
}

/** STATUS: the site's version and address, clients online/offline/passive, sessions in progress. */
function Status() {
  const [site, setSite] = useState<{ version: string; site_url: string; site_pin: string; tls_fingerprint: string; connected_agents: number } | null>(null);
  const [list, setList] = useState<ApiJumpClientList | null>(null);
  const [sessions, setSessions] = useState<ApiSession[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<NonNullable<typeof site>>('GET', '/api/v1/site').then(setSite, setError);
    api<ApiJumpClientList>('GET', '/api/v1/jump-clients?limit=1').then(setList, setError);
    api<{ items: ApiSession[] }>('GET', '/api/v1/sessions?limit=10000').then((r) => setSessions(r.items.filter((s) => s.ended_at === null)), setError);
  }, []);
  return (
    <section class="status">
      <h2>{t('admin.status')}</h2>
      <ErrorLine error={error} />
      <dl>
        <dt>{t('admin.siteVersion')}</dt>
        <dd data-stat="version">{site?.version ?? '…'}</dd>
        <dt>{t('admin.siteAddress')}</dt>
        <dd>{site?.site_url ?? '…'}</dd>
        <dt>{t('admin.sitePin')}</dt>
        <dd>{site?.site_pin ?? '…'}</dd>
        <dt>{t('admin.tlsFingerprint')}</dt>
        <dd>{site?.tls_fingerprint ?? '…'}</dd>
        <dt>{t('admin.clientsOnline')}</dt>
        <dd data-stat="online">{list ? list.summary.online : '…'}</dd>
        <dt>{t('admin.clientsOffline')}</dt>
        <dd data-stat="offline">{list ? list.summary.offline : '…'}</dd>
        <dt>{t('admin.clientsPassive')}</dt>
        <dd data-stat="passive">{list ? list.summary.passive : '…'}</dd>
        <dt>{t('admin.sessionsInProgress')}</dt>
        <dd data-stat="sessions">{sessions ? sessions.length : '…'}</dd>
      </dl>
      {list && <p class="totals">{summaryLine(list.summary)}</p>}
      {sessions && sessions.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>{t('admin.col.client')}</th>
              <th>{t('admin.col.user')}</th>
              <th>{t('admin.col.kind')}</th>
              <th>{t('admin.col.started')}</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id}>
                <td>{s.client ?? t('admin.jumpClientN', { id: s.client_id })}</td>
                <td>{s.user ?? '—'}</td>
                <td>{s.kind}</td>
                <td>{when(s.started_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** "This installer is valid for" choices, in ms (protocol/limits.ts: 10 min to 365 days). */
/** [label key `admin.validFor.<key>`, ms] */
const VALID_FOR: [string, number][] = [
  ['m10', 10 * 60_000],
  ['h1', 3_600_000],
  ['d1', 24 * 3_600_000],
  ['d7', 7 * 24 * 3_600_000],
  ['d30', 30 * 24 * 3_600_000],
  ['y1', 365 * 24 * 3_600_000],
];
/**
 * The wizard's platforms: the `platform` of `POST /api/v1/installers/:uid/file` (docs/api.md); the
 * label is `admin.platforms.<value>`.
 */
const PLATFORMS = ['linux-x64', 'linux-arm64', 'windows-x64-msi', 'windows-x64-exe'] as const;
type Platform = (typeof PLATFORMS)[number];

/** The platform the wizard starts on: the browser's OS (Windows: the MSI; anything else: Linux x64). */
const defaultPlatform = (): Platform => (browserPlatform() === 'windows' ? 'windows-x64-msi' : 'linux-x64');

/** The platform select of the wizard (before and after "Create"). */
function PlatformSelect({ value, onChange }: { value: Platform; onChange: (p: Platform) => void }) {
  return (
    <label>
      {t('admin.platform')}
      <select name="platform" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value as Platform)}>
        {PLATFORMS.map((p) => (
          <option key={p} value={p}>
            {t(`admin.platforms.${p}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The install command lines of a new installer, KEY_INFO filled in (docs/packaging.md). */
export function installCommands(inst: ApiInstallerCreated, platform: Platform): { label: string; line: string }[] {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const run = `jump-client run --config /var/lib/jump-client --site ${q(inst.site_url)} --site-pin ${q(inst.site_pin)} --key-info ${inst.key_info}`;
  if (platform === 'windows-x64-msi') {
    return [{ label: t('admin.cmd.msiexec'), line: `msiexec /i bomgar-scc-win64.msi KEY_INFO=${inst.key_info} /quiet` }];
  }
  if (platform === 'windows-x64-exe') {
    return [{ label: t('admin.cmd.exe'), line: `bomgar-scc-${inst.uid}.exe --install-dir C:\\JumpClient --silent` }];
  }
  const bin = platform === 'linux-arm64' ? `bomgar-scc-${inst.uid}-arm64.bin` : `bomgar-scc-${inst.uid}.bin`;
  return [
    { label: t('admin.cmd.sh', { platform }), line: `sh ./${bin}` },
    { label: t('admin.cmd.run'), line: run },
  ];
}

/** JUMP CLIENTS: the installers, revoke, and the Jump Client Mass Deployment Wizard. */
function JumpClients() {
  const [items, setItems] = useState<ApiInstaller[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [wizard, setWizard] = useState(false);
  const load = useCallback(() => {
    api<{ items: ApiInstaller[] }>('GET', '/api/v1/installers').then((r) => setItems(r.items), setError);
  }, []);
  useEffect(load, [load]);
  const revoke = async (uid: string) => {
    try {
      await api('POST', `/api/v1/installers/${encodeURIComponent(uid)}/revoke`);
      load();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section class="clients-admin">
      <h2>{t('admin.jumpClients')}</h2>
      {!wizard && (
        <button type="button" class="primary" onClick={() => setWizard(true)}>
          {t('admin.createInstaller')}
        </button>
      )}
      {wizard && <Wizard onClose={() => setWizard(false)} onCreated={load} />}
      <ErrorLine error={error} />
      <h3>{t('admin.installers')}</h3>
      <table class="installers">
        <thead>
          <tr>
            <th>{t('admin.col.installer')}</th>
            <th>{t('admin.jumpGroup')}</th>
            <th>{t('admin.tag')}</th>
            <th>{t('admin.comments')}</th>
            <th>{t('admin.mode')}</th>
            <th>{t('admin.col.uses')}</th>
            <th>{t('admin.col.expires')}</th>
            <th>{t('admin.col.state')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.uid} data-uid={i.uid}>
              <td>{i.uid}</td>
              <td>{i.jump_group ?? '—'}</td>
              <td>{i.tag}</td>
              <td>{i.comments}</td>
              <td>{t(`mode.${i.mode}`, { defaultValue: i.mode })}</td>
              <td>
                {i.uses}/{i.max_uses ?? '∞'}
              </td>
              <td>{when(i.expires_at)}</td>
              <td data-col="state">{i.state}</td>
              <td>
                {i.state === 'VALID' && (
                  <button type="button" onClick={() => void revoke(i.uid)}>
                    {t('admin.revoke')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Wizard({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [groups, setGroups] = useState<ApiJumpGroup[]>([]);
  const [group, setGroup] = useState('');
  const [tag, setTag] = useState('');
  const [comments, setComments] = useState('');
  const [validFor, setValidFor] = useState(VALID_FOR[2][1]);
  const [maxUses, setMaxUses] = useState('100');
  const [mode, setMode] = useState<'active' | 'passive'>('active');
  const [platform, setPlatform] = useState<Platform>(defaultPlatform);
  const [downloading, setDownloading] = useState(false);
  const [created, setCreated] = useState<ApiInstallerCreated | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<{ items: ApiJumpGroup[] }>('GET', '/api/v1/jump-groups').then((r) => {
      setGroups(r.items);
      setGroup((g) => g || (r.items.find((x) => x.kind === 'shared') ?? r.items[0])?.name || '');
    }, setError);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const uses = Number(maxUses);
    if (!/^\d+$/.test(maxUses.trim())) return setError(new ApiError(400, 'VALIDATION_FAILED', 'max_uses: must be a whole number from 1 to 1000000', 'max_uses'));
    try {
      const r = await api<ApiInstallerCreated>('POST', '/api/v1/installers', {
        jump_group: group || undefined,
        tag,
        comments,
        valid_for_ms: validFor,
        max_uses: uses,
        mode,
      });
      setCreated(r);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  // The installer file, built by the site for this installer (KEY_INFO sent back: the site keeps
  // only its hash), saved under the name the site gives it.
  const download = async () => {
    if (!created || downloading) return;
    setError(null);
    setDownloading(true);
    try {
      const file = await apiDownload(`/api/v1/installers/${encodeURIComponent(created.uid)}/file`, { key_info: created.key_info, platform });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(file.blob);
      a.download = file.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } catch (err) {
      setError(err);
    } finally {
      setDownloading(false);
    }
  };
  return (
    <div class="wizard">
      <h3>{t('admin.wizard')}</h3>
      {!created ? (
        <form onSubmit={submit}>
          <label>
            {t('admin.jumpGroup')}
            <select name="jump_group" value={group} onChange={(e) => setGroup((e.target as HTMLSelectElement).value)}>
              {groups.map((g) => (
                <option key={g.id} value={g.name}>
                  {g.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t('admin.tag')}
            <input name="tag" value={tag} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.comments')}
            <textarea name="comments" value={comments} onInput={(e) => setComments((e.target as HTMLTextAreaElement).value)} />
          </label>
          <label>
            {t('admin.validForLabel')}
            <select name="valid_for" value={String(validFor)} onChange={(e) => setValidFor(Number((e.target as HTMLSelectElement).value))}>
              {VALID_FOR.map(([l, ms]) => (
                <option key={ms} value={String(ms)}>
                  {t(`admin.validFor.${l}`)}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t('admin.maxUses')}
            <input name="max_uses" inputMode="numeric" value={maxUses} onInput={(e) => setMaxUses((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.mode')}
            <select name="mode" value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value as 'active' | 'passive')}>
              <option value="active">{t('mode.active')}</option>
              <option value="passive">{t('mode.passive')}</option>
            </select>
          </label>
          <PlatformSelect value={platform} onChange={setPlatform} />
          <ErrorLine error={error} />
          <div class="buttons">
            <button type="button" onClick={onClose}>
              {t('common.cancel')}
            </button>
            <button type="submit" class="primary">
              {t('admin.create')}
            </button>
          </div>
        </form>
      ) : (
        <div class="created" data-uid={created.uid}>
          <p>{t('admin.created', { uid: created.uid, group: created.jump_group ?? '—', until: when(created.expires_at), uses: created.max_uses ?? '∞' })}</p>
          <label>
            KEY_INFO
            <input class="key-info" readOnly value={created.key_info} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          </label>
          <PlatformSelect value={platform} onChange={setPlatform} />
          {installCommands(created, platform).map((c) => (
            <div class="command" key={c.line}>
              <span>{c.label}</span>
              <code data-command>{c.line}</code>
              <button type="button" onClick={() => void navigator.clipboard?.writeText(c.line)}>
                {t('admin.copy')}
              </button>
            </div>
          ))}
          <ErrorLine error={error} />
          <div class="buttons">
            <button type="button" class="primary" data-action="download" disabled={downloading} onClick={() => void download()}>
              {downloading ? t('admin.downloading') : t('admin.download')}
            </button>
            <button type="button" onClick={onClose}>
              {t('admin.done')}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** USERS: add, admin, view-personal-groups, disable, reset password (admin routes /api/v1/users). */
function Users({ me }: { me: ApiUser }) {
  const [items, setItems] = useState<ApiUser[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const [vpg, setVpg] = useState(false);
  const [reset, setReset] = useState<{ user: string; password: string } | null>(null);
  const load = useCallback(() => {
    api<{ items: ApiUser[] }>('GET', '/api/v1/users').then((r) => setItems(r.items), setError);
  }, []);
  useEffect(load, [load]);
  const call = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(null);
      load();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const patch = (u: string, body: Record<string, unknown>) => call(() => api('PATCH', `/api/v1/users/${encodeURIComponent(u)}`, body));
  return (
    <section class="users">
      <h2>{t('admin.users')}</h2>
      <form
        class="add-user"
        onSubmit={(e) => {
          e.preventDefault();
          void call(() => api('POST', '/api/v1/users', { name, password, role: isAdmin ? 'admin' : 'technician', view_personal_groups: vpg })).then((ok) => {
            if (ok) {
              setName('');
              setPassword('');
            }
          });
        }}
      >
        <input name="name" placeholder={t('admin.username')} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input name="password" type="password" placeholder={t('admin.password')} autocomplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <label>
          <input type="checkbox" name="admin" checked={isAdmin} onChange={() => setIsAdmin(!isAdmin)} /> {t('admin.admin')}
        </label>
        <label>
          <input type="checkbox" name="view_personal_groups" checked={vpg} onChange={() => setVpg(!vpg)} /> {t('admin.viewPersonalGroups')}
        </label>
        <button type="submit" class="primary">
          {t('admin.addUser')}
        </button>
      </form>
      <ErrorLine error={error} />
      <table>
        <thead>
          <tr>
            <th>{t('admin.col.user')}</th>
            <th>{t('admin.admin')}</th>
            <th>{t('admin.col.viewPersonal')}</th>
            <th>{t('admin.col.state')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map((u) => (
            <tr key={u.id} data-user={u.name}>
              <td>{u.name}</td>
              <td>
                <input type="checkbox" name="admin" checked={u.role === 'admin'} disabled={u.id === me.id} onChange={() => void patch(u.name, { role: u.role === 'admin' ? 'technician' : 'admin' })} />
              </td>
              <td>
                <input type="checkbox" name="view_personal_groups" checked={u.view_personal_groups} onChange={() => void patch(u.name, { view_personal_groups: !u.view_personal_groups })} />
              </td>
              <td data-col="state">{u.disabled ? t('admin.disabled') : t('admin.enabled')}</td>
              <td>
                {u.id !== me.id && (
                  <button type="button" onClick={() => void patch(u.name, { disabled: !u.disabled })}>
                    {u.disabled ? t('admin.enable') : t('admin.disable')}
                  </button>
                )}
                <button type="button" onClick={() => setReset({ user: u.name, password: '' })}>
                  {t('admin.resetPassword')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {reset && (
        <form
          class="reset"
          onSubmit={(e) => {
            e.preventDefault();
            void patch(reset.user, { password: reset.password }).then((ok) => ok && setReset(null));
          }}
        >
          {t('admin.newPasswordFor')} <b>{reset.user}</b>{' '}
          <input name="reset_password" type="password" autocomplete="new-password" value={reset.password} onInput={(e) => setReset({ ...reset, password: (e.target as HTMLInputElement).value })} />
          <button type="submit" class="primary">
            {t('admin.setPassword')}
          </button>
          <button type="button" onClick={() => setReset(null)}>
            {t('common.cancel')}
          </button>
        </form>
      )}
    </section>
  );
}

/** JUMP GROUPS: create shared groups and manage their members (admin routes /api/v1/jump-groups). */
function Groups() {
  const [groups, setGroups] = useState<ApiJumpGroup[]>([]);
  const [users, setUsers] = useState<ApiUser[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [adding, setAdding] = useState<Record<string, string>>({});
  const load = useCallback(() => {
    api<{ items: ApiJumpGroup[] }>('GET', '/api/v1/jump-groups').then((r) => setGroups(r.items), setError);
    api<{ items: ApiUser[] }>('GET', '/api/v1/users').then((r) => setUsers(r.items), setError);
  }, []);
  useEffect(load, [load]);
  const call = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(null);
      load();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const g = (n: string) => encodeURIComponent(n);
  return (
    <section class="groups-admin">
      <h2>{t('admin.jumpGroups')}</h2>
      <form
        class="add-group"
        onSubmit={(e) => {
          e.preventDefault();
          void call(() => api('POST', '/api/v1/jump-groups', { name })).then((ok) => ok && setName(''));
        }}
      >
        <input name="group_name" placeholder={t('admin.newGroup')} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit" class="primary">
          {t('admin.createGroup')}
        </button>
      </form>
      <ErrorLine error={error} />
      <table>
        <thead>
          <tr>
            <th>{t('admin.jumpGroup')}</th>
            <th>{t('admin.members')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {groups
            .filter((x) => x.kind === 'shared')
            .map((x) => (
              <tr key={x.id} data-group={x.name}>
                <td>{x.name}</td>
                <td>
                  {(x.members ?? []).map((m) => (
                    <span class="member" key={m}>
                      {m}{' '}
                      <button type="button" aria-label={t('admin.removeMember', { name: m })} onClick={() => void call(() => api('DELETE', `/api/v1/jump-groups/${g(x.name)}/members/${g(m)}`))}>
                        ×
                      </button>
                    </span>
                  ))}
                </td>
                <td>
                  <select name="member" value={adding[x.name] ?? ''} onChange={(e) => setAdding({ ...adding, [x.name]: (e.target as HTMLSelectElement).value })}>
                    <option value="">{t('admin.addMember')}</option>
                    {users
                      .filter((u) => !(x.members ?? []).includes(u.name))
                      .map((u) => (
                        <option key={u.id} value={u.name}>
                          {u.name}
                        </option>
                      ))}
                  </select>
                  <button type="button" disabled={!adding[x.name]} onClick={() => void call(() => api('POST', `/api/v1/jump-groups/${g(x.name)}/members`, { user: adding[x.name] }))}>
                    {t('admin.add')}
                  </button>
                  <button type="button" onClick={() => void call(() => api('DELETE', `/api/v1/jump-groups/${g(x.name)}`))}>
                    {t('admin.deleteGroup')}
                  </button>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}

render(<App />, document.getElementById('app')!);
