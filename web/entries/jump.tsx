/**
 * The Jump interface (issue #19 item 2; seeds: "Starting a session through a Jump Client"): jump
 * groups on the left with their tags under an arrow, a second panel of the users whose personal
 * groups one may see, the list (Name, Hostname/IP, Jump Method, Comments, Group, and more through
 * the column chooser) with the seeds' totals line, search with a magnifier choosing the searched
 * fields, the statistics panel on the right, Properties, multi-select Delete, Jump (double-click,
 * toolbar, right-click menu, statistics panel: `/web/jump/<id>` in a new tab), live updates over
 * `/api/v1/events`, server-side paging and sorting, and CSV export.
 *
 * Every value an endpoint reports is hostile text: it is only ever rendered as text.
 */
import { Fragment, render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ApiJumpClient, ApiJumpClientDetail, ApiJumpClientList, ApiJumpGroup, ApiSummary, ApiUser } from '../../protocol/api.js';
import { COMMENTS_MAX, NAME_MAX, TAG_MAX } from '../../protocol/limits.js';
import { api, query } from '../api.js';
import { ErrorLine, Modal, signOut, summaryLine, useMe, when } from '../common.js';
import { t, tEn, useLang } from '../i18n/index.js';
import { LanguageSelect } from '../i18n/select.js';

/** Rows per page. */
const PAGE_SIZE = 50;

/** The seeds' search fields (protocol/fields.ts SEARCH_FIELDS); their labels are `jump.field.<name>`. */
const SEARCH_FIELDS = ['name', 'comments', 'console_user', 'domain', 'jump_method', 'last_access', 'private_ip', 'public_ip', 'status', 'tag', 'workgroup'];

interface Column {
  /** Also the label's key: `jump.column.<key>`. */
  key: string;
  /** The API's sort key (protocol/fields.ts SORT_FIELDS). */
  sort: string;
  /** The CSV export's column (site/routes/jump-clients.ts CSV_COLUMNS). */
  csv: string;
  text: (c: ApiJumpClient) => string;
}

const COLUMNS: Column[] = [
  { key: 'name', sort: 'name', csv: 'name', text: (c) => c.name },
  { key: 'hostname', sort: 'hostname', csv: 'hostname', text: (c) => c.hostname ?? c.public_ip ?? '' },
  { key: 'jump_method', sort: 'jump_method', csv: 'jump_method', text: (c) => c.jump_method },
  { key: 'comments', sort: 'comments', csv: 'comments', text: (c) => c.comments },
  { key: 'group', sort: 'group', csv: 'jump_group', text: (c) => c.jump_group },
  { key: 'tag', sort: 'tag', csv: 'tag', text: (c) => c.tag },
  { key: 'status', sort: 'status', csv: 'status', text: (c) => statusText(c.status) },
  { key: 'public_ip', sort: 'public_ip', csv: 'public_ip', text: (c) => c.public_ip ?? '' },
  { key: 'private_ips', sort: 'private_ip', csv: 'private_ips', text: (c) => c.private_ips.join(' ') },
  { key: 'console_user', sort: 'console_user', csv: 'console_user', text: (c) => c.console_user ?? '' },
  { key: 'domain', sort: 'domain', csv: 'domain', text: (c) => c.domain ?? '' },
  { key: 'workgroup', sort: 'workgroup', csv: 'workgroup', text: (c) => c.workgroup ?? '' },
  { key: 'mode', sort: 'mode', csv: 'mode', text: (c) => modeText(c.mode) },
  { key: 'last_access', sort: 'last_access', csv: 'last_access', text: (c) => when(c.last_access) },
];
const DEFAULT_COLUMNS = ['name', 'hostname', 'jump_method', 'comments', 'group', 'status'];
const COLUMNS_KEY = 'jump.columns';

function savedColumns(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null') as unknown;
    if (Array.isArray(v) && v.every((k) => COLUMNS.some((c) => c.key === k)) && v.length > 0) return v as string[];
  } catch {
    /* the default */
  }
  return DEFAULT_COLUMNS;
}

/** A column's header in the page's language. */
function columnLabel(c: Column): string {
  return t(`jump.column.${c.key}`);
}

/** A jump client's status (online, offline, passive, lost, uninstalled) in the page's language. */
function statusText(v: string): string {
  return t(`status.${v}`, { defaultValue: v });
}

/** A jump client's mode (active, passive) in the page's language. */
function modeText(v: string): string {
  return t(`mode.${v}`, { defaultValue: v });
}

/** Opens the browser terminal of a Jump to client `id` in a new tab (wt-term's page). */
function jumpTo(id: number): void {
  window.open(`/web/jump/${id}`, '_blank', 'noopener');
}

type Filter = { group?: string; tag?: string };

function App() {
  const me = useMe();
  useLang(); // re-renders the page in the new language
  return me ? <JumpInterface me={me} /> : <p class="loading">{t('common.loading')}</p>;
}

function JumpInterface({ me }: { me: ApiUser }) {
  const [groups, setGroups] = useState<ApiJumpGroup[]>([]);
  const [tags, setTags] = useState<NonNullable<ApiJumpClientList['tags']>>([]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState<Filter>({});
  const [searchText, setSearchText] = useState('');
  const [search, setSearch] = useState('');
  const [fields, setFields] = useState<Set<string>>(new Set());
  const [picker, setPicker] = useState(false);
  // By name first: the order the site keeps an index for (docs/benchmarks.md, the 50 000-client listing).
  const [sort, setSort] = useState<{ key: string; order: 'asc' | 'desc' } | null>({ key: 'name', order: 'asc' });
  const [page, setPage] = useState(0);
  const [rows, setRows] = useState<ApiJumpClient[]>([]);
  const [summary, setSummary] = useState<ApiSummary | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [focus, setFocus] = useState<number | null>(null);
  const [detail, setDetail] = useState<ApiJumpClientDetail | null>(null);
  const [columns, setColumns] = useState<string[]>(savedColumns);
  const [chooser, setChooser] = useState(false);
  const [dialog, setDialog] = useState<'properties' | 'delete' | null>(null);
  const [menu, setMenu] = useState<{ x: number; y: number } | null>(null);
  const [live, setLive] = useState(false);

  const listQuery = useMemo(
    () => ({
      search: search || undefined,
      fields: search && fields.size > 0 ? [...fields].join(',') : undefined,
      group: filter.group,
      tag: filter.tag,
      sort: sort?.key,
      order: sort?.order,
    }),
    [search, fields, filter, sort],
  );

  const load = useCallback(async () => {
    try {
      const r = await api<ApiJumpClientList>('GET', `/api/v1/jump-clients${query({ ...listQuery, limit: PAGE_SIZE, offset: page * PAGE_SIZE })}`);
      setRows(r.items);
      setSummary(r.summary);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [listQuery, page]);

  const loadGroups = useCallback(() => {
    api<{ items: ApiJumpGroup[] }>('GET', '/api/v1/jump-groups').then((r) => setGroups(r.items), setError);
  }, []);
  // The tags of the groups panel: asked apart from the pages (paging and sorting do not change them).
  const loadTags = useCallback(() => {
    api<ApiJumpClientList>('GET', '/api/v1/jump-clients?limit=1&sort=name&with_tags=1').then((r) => setTags(r.tags ?? []), setError);
  }, []);
  useEffect(loadTags, [loadTags]);

  useEffect(() => void load(), [load]);
  useEffect(loadGroups, [loadGroups]);

  const loadDetail = useCallback(async (id: number | null) => {
    if (id === null) return setDetail(null);
    try {
      setDetail((await api<{ item: ApiJumpClientDetail }>('GET', `/api/v1/jump-clients/${id}`)).item);
    } catch {
      setDetail(null);
    }
  }, []);
  useEffect(() => void loadDetail(focus), [focus, loadDetail]);

  // Live updates: one events stream; changes reload the page of rows (and the statistics shown).
  const loadRef = useRef(load);
  loadRef.current = load;
  const tagsRef = useRef(loadTags);
  tagsRef.current = loadTags;
  const focusRef = useRef(focus);
  focusRef.current = focus;
  useEffect(() => {
    const es = new EventSource('/api/v1/events');
    let timer: number | undefined;
    es.onopen = () => setLive(true);
    es.onerror = () => setLive(false);
    es.addEventListener('clients', (ev) => {
      const { changes } = JSON.parse((ev as MessageEvent<string>).data) as { changes: { id: number; kind: string }[] };
      if (focusRef.current !== null && changes.some((c) => c.id === focusRef.current)) void loadDetail(focusRef.current);
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        void loadRef.current();
        if (changes.some((c) => c.kind === 'enrolled' || c.kind === 'edited' || c.kind === 'deleted')) tagsRef.current();
      }, 200);
    });
    return () => {
      clearTimeout(timer);
      es.close();
    };
  }, [loadDetail]);

  useEffect(() => {
    const close = () => {
      setMenu(null);
      setChooser(false);
      setPicker(false);
    };
    window.addEventListener('click', close);
    return () => window.removeEventListener('click', close);
  }, []);

  const choose = (f: Filter) => {
    setFilter(f);
    setPage(0);
    setSelected(new Set());
  };
  const selectedRows = rows.filter((r) => selected.has(r.id));
  const one = selectedRows.length === 1 ? selectedRows[0] : null;
  const pages = summary ? Math.max(1, Math.ceil(summary.jump_items / PAGE_SIZE)) : 1;
  const shown = COLUMNS.filter((c) => columns.includes(c.key));
  const mine = `user:${me.name}`;
  const ownGroups = groups.filter((g) => g.kind === 'shared' || g.name === mine);
  const others = groups.filter((g) => g.kind === 'personal' && g.name !== mine);
  const csvHref = `/api/v1/jump-clients.csv${query({ ...listQuery, columns: shown.map((c) => c.csv).join(',') })}`;

  const clickRow = (e: MouseEvent, c: ApiJumpClient) => {
    const next = new Set(e.ctrlKey || e.metaKey ? selected : []);
    if ((e.ctrlKey || e.metaKey) && next.has(c.id)) next.delete(c.id);
    else next.add(c.id);
    setSelected(next);
    setFocus(c.id);
  };
  const sortBy = (col: Column) => {
    setSort(sort?.key === col.sort ? { key: col.sort, order: sort.order === 'asc' ? 'desc' : 'asc' } : { key: col.sort, order: 'asc' });
    setPage(0);
  };
  const toggleColumn = (key: string) => {
    const next = columns.includes(key) ? columns.filter((k) => k !== key) : COLUMNS.map((c) => c.key).filter((k) => k === key || columns.includes(k));
    if (next.length === 0) return;
    setColumns(next);
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(next));
  };

  return (
    <div class="jump-app">
      <header class="topbar">
        <strong>Jump Client</strong>
        <nav>
          <a href="/web/">{t('common.jumpInterface')}</a>
          <a href="/web/reports">{t('common.reports')}</a>
          <a href="/login">{me.role === 'admin' ? t('jump.adminLink') : t('jump.accountLink')}</a>
        </nav>
        <span class="who">
          {t('common.signedInAs')} <b>{me.name}</b> <span class={live ? 'live on' : 'live'} title={live ? t('jump.liveOn') : t('jump.liveOff')} data-live={live ? '1' : '0'} />
          <LanguageSelect />
          <button type="button" onClick={() => void signOut()}>
            {t('common.signOut')}
          </button>
        </span>
      </header>
      <div class="jump-main">
        <aside class="groups">
          <h3>{t('jump.jumpGroups')}</h3>
          <ul class="tree">
            <li class={!filter.group ? 'sel' : ''}>
              <a href="#" onClick={(e) => (e.preventDefault(), choose({}))}>
                {t('jump.allJumpItems')}
              </a>
            </li>
            {ownGroups.map((g) => {
              const gt = tags.filter((t) => t.jump_group === g.name);
              return (
                <li key={g.id} class={filter.group === g.name && !filter.tag ? 'sel' : ''} data-group={g.name}>
                  {gt.length > 0 ? (
                    <button type="button" class="arrow" aria-label={t('jump.tagsOf', { group: g.name })} onClick={() => setOpen(toggled(open, g.name))}>
                      {open.has(g.name) ? '▾' : '▸'}
                    </button>
                  ) : (
                    <span class="arrow" />
                  )}
                  <a href="#" onClick={(e) => (e.preventDefault(), choose({ group: g.name }))}>
                    {g.name === mine ? t('jump.personal') : g.name}
                  </a>
                  {open.has(g.name) && (
                    <ul>
                      {gt.map((t) => (
                        <li key={t.tag} class={filter.group === g.name && filter.tag === t.tag ? 'sel' : ''}>
                          <a href="#" class="tag" onClick={(e) => (e.preventDefault(), choose({ group: g.name, tag: t.tag }))}>
                            {t.tag} ({t.count})
                          </a>
                        </li>
                      ))}
                    </ul>
                  )}
                </li>
              );
            })}
          </ul>
          {others.length > 0 && (
            <>
              <h3>{t('jump.users')}</h3>
              <ul class="tree users">
                {others.map((g) => (
                  <li key={g.id} class={filter.group === g.name ? 'sel' : ''}>
                    <a href="#" onClick={(e) => (e.preventDefault(), choose({ group: g.name }))}>
                      {g.name.slice('user:'.length)}
                    </a>
                  </li>
                ))}
              </ul>
            </>
          )}
        </aside>
        <section class="list">
          <div class="toolbar">
            <button type="button" disabled={!one} onClick={() => one && jumpTo(one.id)}>
              {t('jump.jump')}
            </button>
            <button type="button" disabled={!one} onClick={() => setDialog('properties')}>
              {t('jump.properties')}
            </button>
            <button type="button" disabled={selectedRows.length === 0} onClick={() => setDialog('delete')}>
              {t('jump.delete')}
            </button>
            <a class="button" href={csvHref} download="jump-clients.csv">
              {t('jump.exportCsv')}
            </a>
            <span class="chooser">
              <button type="button" onClick={(e) => (e.stopPropagation(), setChooser(!chooser))}>
                {t('jump.columns')}
              </button>
              {chooser && (
                <div class="popup" onClick={(e) => e.stopPropagation()}>
                  {COLUMNS.map((c) => (
                    <label key={c.key}>
                      <input type="checkbox" checked={columns.includes(c.key)} onChange={() => toggleColumn(c.key)} /> {columnLabel(c)}
                    </label>
                  ))}
                </div>
              )}
            </span>
            <form
              class="search"
              role="search"
              onSubmit={(e) => {
                e.preventDefault();
                setSearch(searchText.trim());
                setPage(0);
              }}
            >
              <span class="picker">
                <button type="button" class="magnifier" aria-label={t('jump.chooseFields')} onClick={(e) => (e.stopPropagation(), setPicker(!picker))}>
                  <svg viewBox="0 0 16 16" aria-hidden="true">
                    <circle cx="6.5" cy="6.5" r="5" fill="none" stroke="currentColor" stroke-width="2" />
                    <line x1="10.5" y1="10.5" x2="15" y2="15" stroke="currentColor" stroke-width="2" />
                  </svg>
                </button>
                {picker && (
                  <div class="popup" onClick={(e) => e.stopPropagation()}>
                    <p>{t('jump.searchIn')}</p>
                    {SEARCH_FIELDS.map((f) => (
                      <label key={f}>
                        <input type="checkbox" name={`field-${f}`} checked={fields.has(f)} onChange={() => setFields(toggled(fields, f))} /> {t(`jump.field.${f}`)}
                      </label>
                    ))}
                    <p class="hint">{fields.size === 0 ? t('jump.noneChosen') : t('jump.chosen', { count: fields.size })}</p>
                  </div>
                )}
              </span>
              <input type="search" name="search" placeholder={t('jump.search')} value={searchText} onInput={(e) => setSearchText((e.target as HTMLInputElement).value)} />
              <button type="submit">{t('jump.search')}</button>
            </form>
          </div>
          <ErrorLine error={error} />
          <table class="clients">
            <thead>
              <tr>
                {shown.map((c) => (
                  <th key={c.key} data-col={c.key} onClick={() => sortBy(c)} aria-sort={sort?.key === c.sort ? (sort.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
                    {columnLabel(c)}
                    {sort?.key === c.sort ? (sort.order === 'asc' ? ' ▲' : ' ▼') : ''}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={r.id}
                  data-id={r.id}
                  class={`${selected.has(r.id) ? 'sel ' : ''}status-${r.status}`}
                  onClick={(e) => clickRow(e, r)}
                  onDblClick={() => jumpTo(r.id)}
                  onContextMenu={(e) => {
                    e.preventDefault();
                    if (!selected.has(r.id)) {
                      setSelected(new Set([r.id]));
                      setFocus(r.id);
                    }
                    setMenu({ x: e.clientX, y: e.clientY });
                  }}
                >
                  {shown.map((c) => (
                    <td key={c.key} data-col={c.key}>
                      {c.text(r)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <footer class="summary">
            <span class="totals">{summary ? summaryLine(summary) : ''}</span>
            <span class="pager">
              <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
                {t('jump.previous')}
              </button>
              <span class="page">{t('jump.page', { page: page + 1, pages })}</span>
              <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
                {t('jump.next')}
              </button>
            </span>
          </footer>
        </section>
        <aside class="stats">{detail ? <Statistics c={detail} /> : <p class="hint">{t('jump.selectForStats')}</p>}</aside>
      </div>
      {menu && (
        <ul class="context-menu" role="menu" style={{ left: `${menu.x}px`, top: `${menu.y}px` }}>
          <li role="menuitem" class={one ? '' : 'disabled'} onClick={() => one && jumpTo(one.id)}>
            {t('jump.jump')}
          </li>
          <li role="menuitem" class={one ? '' : 'disabled'} onClick={() => one && setDialog('properties')}>
            {t('jump.properties')}
          </li>
          <li role="menuitem" onClick={() => setDialog('delete')}>
            {t('jump.delete')}
          </li>
        </ul>
      )}
      {dialog === 'properties' && one && (
        <Properties
          c={one}
          groups={groups.filter((g) => g.kind === 'shared' || g.name === mine || me.role === 'admin')}
          onClose={() => setDialog(null)}
          onSaved={() => {
            setDialog(null);
            void load();
            loadTags();
            void loadDetail(one.id);
          }}
        />
      )}
      {dialog === 'delete' && selectedRows.length > 0 && (
        <DeleteDialog
          rows={selectedRows}
          onClose={() => setDialog(null)}
          onDeleted={() => {
            setDialog(null);
            setSelected(new Set());
            setFocus(null);
            void load();
            loadTags();
          }}
        />
      )}
    </div>
  );
}

function toggled<T>(s: Set<T>, v: T): Set<T> {
  const n = new Set(s);
  if (n.has(v)) n.delete(v);
  else n.add(v);
  return n;
}

function bytes(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The right panel: the selected client's last statistics (seeds: the statistics panel), and Jump. */
function Statistics({ c }: { c: ApiJumpClientDetail }) {
  const s = c.stats as Record<string, unknown>;
  const v = (x: unknown) => (x === null || x === undefined || x === '' ? '—' : String(x));
  // [key (the label is `jump.stat.<key>`; data-stat keeps its English text, stable for tests and scripts), value]
  const rows: [string, string][] = [
    ['status', statusText(c.status)],
    ['hostname', v(c.hostname)],
    ['public_ip', v(c.public_ip)],
    ['private_ip', c.private_ips.join(' ') || '—'],
    ['os', `${v(s.os_name)} ${s.os_version ? String(s.os_version) : ''}`.trim()],
    ['console_user', v(c.console_user)],
    ['domain', v(c.domain)],
    ['workgroup', v(c.workgroup)],
    ['cpu', `${v(s.cpu_model)}${typeof s.cpu_load_pct === 'number' ? ` (${s.cpu_load_pct} %)` : ''}`],
    ['memory', `${bytes(s.mem_used_bytes)} / ${bytes(s.mem_total_bytes)}`],
    ['disk', `${bytes(s.disk_used_bytes)} / ${bytes(s.disk_total_bytes)}`],
    ['agent_version', v(s.agent_version)],
    ['jump_group', c.jump_group],
    ['tag', v(c.tag)],
    ['mode', modeText(c.mode)],
    ['last_connected', when(c.last_connected)],
    ['last_access', when(c.last_access)],
  ];
  // What the site found wrong with this identity (the CLI's `jump clients show` says the same):
  // shown only when set, above the statistics. Endpoint-given values are text, never markup.
  const warnings: [string, string][] = [
    ...(c.quarantined ? ([['quarantined', t('jump.warn.quarantinedValue', { when: when(c.quarantined_at), reason: c.quarantine_reason ?? '' })]] as [string, string][]) : []),
    ...(c.duplicate_of ? ([['duplicate_of', t('jump.warn.duplicateOfValue', { id: c.duplicate_of })]] as [string, string][]) : []),
    ...(c.clone_report
      ? ([['clone_report', t('jump.warn.cloneReportValue', { when: when(c.clone_report.at), machine: c.clone_report.machine_id, ip: c.clone_report.public_ip, count: c.clone_report.count })]] as [string, string][])
      : []),
  ];
  return (
    <div class="statistics" data-id={c.id}>
      <h3>{c.name}</h3>
      <button type="button" class="primary" onClick={() => jumpTo(c.id)}>
        {t('jump.jump')}
      </button>
      {warnings.length > 0 && (
        <dl class="warnings">
          {warnings.map(([k, val]) => (
            <Fragment key={k}>
              <dt>{t(`jump.warn.${k}`)}</dt>
              <dd data-warn={k}>{val}</dd>
            </Fragment>
          ))}
        </dl>
      )}
      <dl>
        {rows.map(([k, val]) => (
          <Fragment key={k}>
            <dt>{t(`jump.stat.${k}`)}</dt>
            <dd data-stat={tEn(`jump.stat.${k}`)}>{val}</dd>
          </Fragment>
        ))}
      </dl>
      {c.comments && <p class="comments">{c.comments}</p>}
    </div>
  );
}

/**
 * Properties (seeds: "Edit Jump Client"): Name (≤128), Jump Group, Tag (≤64), Comments (≤1024).
 * The page does not cut input short: the API checks every field and its message is shown as is.
 */
function Properties({ c, groups, onClose, onSaved }: { c: ApiJumpClient; groups: ApiJumpGroup[]; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(c.custom_name ?? '');
  const [group, setGroup] = useState(c.jump_group);
  const [tag, setTag] = useState(c.tag);
  const [comments, setComments] = useState(c.comments);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (name !== (c.custom_name ?? '')) body.name = name;
    if (group !== c.jump_group) body.jump_group = group;
    if (tag !== c.tag) body.tag = tag;
    if (comments !== c.comments) body.comments = comments;
    if (Object.keys(body).length === 0) return onClose();
    setBusy(true);
    try {
      await api('PATCH', `/api/v1/jump-clients/${c.id}`, body);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const count = (v: string, max: number) => (
    <small class={v.length > max ? 'over' : ''}>
      {v.length}/{max}
    </small>
  );
  return (
    <Modal title={t('jump.propertiesOf', { name: c.name })} onClose={onClose}>
      <form class="properties" onSubmit={save}>
        <label>
          {t('jump.field.name')} {count(name, NAME_MAX)}
          <input name="name" value={name} placeholder={c.hostname ?? ''} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('jump.jumpGroup')}
          <select name="jump_group" value={group} onChange={(e) => setGroup((e.target as HTMLSelectElement).value)}>
            {!groups.some((g) => g.name === c.jump_group) && <option value={c.jump_group}>{c.jump_group}</option>}
            {groups.map((g) => (
              <option key={g.id} value={g.name}>
                {g.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('jump.field.tag')} {count(tag, TAG_MAX)}
          <input name="tag" value={tag} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('jump.field.comments')} {count(comments, COMMENTS_MAX)}
          <textarea name="comments" rows={4} value={comments} onInput={(e) => setComments((e.target as HTMLTextAreaElement).value)} />
        </label>
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {t('common.save')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Delete with confirmation: every selected client, all or none (`POST /api/v1/jump-clients/delete`). */
function DeleteDialog({ rows, onClose, onDeleted }: { rows: ApiJumpClient[]; onClose: () => void; onDeleted: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const go = async () => {
    try {
      await api('POST', '/api/v1/jump-clients/delete', { ids: rows.map((r) => r.id) });
      onDeleted();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Modal title={t('jump.deleteTitle')} onClose={onClose}>
      <p>{t('jump.deleteConfirm', { count: rows.length })}</p>
      <ul class="names">
        {rows.map((r) => (
          <li key={r.id}>{r.name}</li>
        ))}
      </ul>
      <ErrorLine error={error} />
      <div class="buttons">
        <button type="button" onClick={onClose}>
          {t('common.cancel')}
        </button>
        <button type="button" class="danger" onClick={() => void go()}>
          {t('jump.deleteN', { count: rows.length })}
        </button>
      </div>
    </Modal>
  );
}

render(<App />, document.getElementById('app')!);
