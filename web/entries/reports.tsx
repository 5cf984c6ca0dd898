/**
 * REPORTS `/web/reports` (issue #19): the Jump sessions the user may see (`GET /api/v1/sessions`,
 * the same rule as `jump sessions`), and playback of a session's terminal recording (asciicast v2,
 * `GET /api/v1/sessions/:id/recording?part=terminal`) in an xterm.js terminal: play/pause, speed,
 * restart. Everything from the site is shown as text (Preact text nodes); recorded output goes
 * into the terminal only, never into the page as HTML (it is endpoint output).
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, apiGet } from '../terminal/auth.js';
import { CastPlayer, IDLE_LIMIT_S, parseCast } from '../terminal/cast.js';
import '../terminal/terminal.css';
import { errorText } from '../i18n/errors.js';
import { t, useLang, when } from '../i18n/index.js';
import { LanguageSelect } from '../i18n/select.js';

/** One session as the API lists it (protocol/api.ts ApiSessionDetail; the fields shown here). */
interface SessionItem {
  id: string;
  client_id: number;
  client: string;
  user: string;
  kind: string;
  started_at: string;
  ended_at: string | null;
  exit_status: number | null;
  end_reason: string | null;
  recording: boolean;
  bytes_to_client: number;
  bytes_from_client: number;
}

const SPEEDS = [0.5, 1, 2, 4, 16];


function Player({ session }: { session: SessionItem }) {
  const host = useRef<HTMLDivElement>(null);
  const player = useRef<CastPlayer | null>(null);
  const [state, setState] = useState<{ pos: number; playing: boolean; duration: number; error?: string; loaded: boolean }>({ pos: 0, playing: false, duration: 0, loaded: false });
  const [speed, setSpeed] = useState(1);

  useEffect(() => {
    const term = new Terminal({ scrollback: 5000, disableStdin: true, convertEol: false, fontSize: 13, lineHeight: 1.15, fontFamily: '"DejaVu Sans Mono", Menlo, Consolas, monospace' });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    let disposed = false;
    apiGet<string>(`/api/v1/sessions/${encodeURIComponent(session.id)}/recording?part=terminal`, 'text')
      .then((text) => {
        if (disposed) return;
        const cast = parseCast(text);
        const p = new CastPlayer(cast, { write: (d) => term.write(d), resize: (c, r) => term.resize(c, r), reset: () => term.reset() }, (pos, playing) =>
          setState((s) => ({ ...s, pos, playing })),
        );
        player.current = p;
        setState({ pos: 0, playing: false, duration: cast.duration, loaded: true });
        p.setSpeed(speed);
        p.play();
      })
      .catch((err: unknown) => !disposed && setState((s) => ({ ...s, error: err instanceof ApiError ? errorText(err.code, err.message) : String((err as Error).message ?? err) })));
    return () => {
      disposed = true;
      player.current?.dispose();
      player.current = null;
      term.dispose();
    };
  }, [session.id]);

  const p = player.current;
  return (
    <div class="player" data-session={session.id}>
      <div class="controls">
        <button type="button" class="play" disabled={!state.loaded} onClick={() => (p?.playing ? p.pause() : p?.play())}>
          {state.playing ? t('reports.pause') : t('reports.play')}
        </button>
        <button type="button" class="restart" disabled={!state.loaded} onClick={() => p?.restart()}>
          {t('reports.restart')}
        </button>
        <label>
          {t('reports.speed')}{' '}
          <select
            class="speed"
            value={String(speed)}
            onChange={(e) => {
              const v = Number((e.target as HTMLSelectElement).value);
              setSpeed(v);
              p?.setSpeed(v);
            }}
          >
            {SPEEDS.map((s) => (
              <option value={String(s)}>{s}×</option>
            ))}
          </select>
        </label>
        <span class="position" data-playing={String(state.playing)}>
          {state.pos.toFixed(1)} s / {state.duration.toFixed(1)} s
        </span>
        <span class="state">
          {session.client} · {session.user} · {when(session.started_at, '')} {t('reports.pausesShortened', { seconds: IDLE_LIMIT_S })}
        </span>
      </div>
      {state.error && (
        <div class="banner error" role="alert">
          {state.error}
        </div>
      )}
      <div class="screen" ref={host} />
    </div>
  );
}

function ReportsPage() {
  const [items, setItems] = useState<SessionItem[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<SessionItem | null>(null);
  useLang(); // re-renders the page in the new language

  useEffect(() => {
    apiGet<{ items: SessionItem[] }>('/api/v1/sessions?limit=500')
      .then((r) => setItems(r.items))
      .catch((err: unknown) => setError(err instanceof ApiError ? err : new ApiError('INTERNAL_ERROR', String(err), 0)));
  }, []);

  return (
    <div class="reports">
      <h1>{t('admin.tab.reports')}</h1>
      <LanguageSelect />
      {error && (
        <div class="banner error" role="alert" data-code={error.code}>
          {errorText(error.code, error.message)}{' '}
          {error.status === 401 && <a href="/login">{t('common.signIn')}</a>}
        </div>
      )}
      {items === null && !error && <p>{t('common.loading')}</p>}
      {items !== null && items.length === 0 && <p>{t('reports.none')}</p>}
      {items !== null && items.length > 0 && (
        <table class="sessions">
          <thead>
            <tr>
              <th>{t('admin.col.started')}</th>
              <th>{t('reports.ended')}</th>
              <th>{t('admin.col.client')}</th>
              <th>{t('admin.col.user')}</th>
              <th>{t('admin.col.kind')}</th>
              <th>{t('reports.exit')}</th>
              <th>{t('reports.endReason')}</th>
              <th>{t('reports.recording')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr data-session={s.id} class={selected?.id === s.id ? 'selected' : ''}>
                <td>{when(s.started_at, '')}</td>
                <td>{s.ended_at ? when(s.ended_at, '') : t('reports.inProgress')}</td>
                <td>{s.client}</td>
                <td>{s.user}</td>
                <td>{s.kind}</td>
                <td>{s.exit_status ?? ''}</td>
                <td>{s.end_reason ?? ''}</td>
                <td>
                  {s.recording ? (
                    <button type="button" class="watch" onClick={() => setSelected(s)}>
                      {t('reports.play')}
                    </button>
                  ) : (
                    t('reports.noRecording')
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && <Player key={selected.id} session={selected} />}
    </div>
  );
}

render(<ReportsPage />, document.getElementById('app')!);
