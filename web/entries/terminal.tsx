/**
 * The terminal page `/web/jump/<client id>` (issue #19 item 3): one Jump into one jump client, in
 * this tab. The site opens the session and is the SSH client (site/web-terminal.ts); this page
 * speaks the terminal socket: `open` (client, size, token), binary input and output, `resize`;
 * it shows `ready`, `error` (the Jump failed: the catalog's code and text) and `ended` (why).
 *
 * xterm.js with the fit add-on fills the window and follows its size (the PTY follows through
 * `resize`); scrollback 5 000 lines; copy: select with the mouse, then the browser's copy
 * (Ctrl+Shift+C, or Ctrl+C while a selection exists); paste: the browser's paste (Ctrl+Shift+V,
 * Ctrl+V, the context menu). Several tabs: each tab its own socket and session.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { pageToken } from '../terminal/auth.js';
import '../terminal/terminal.css';
import { errorText } from '../i18n/errors.js';
import { t, useLang } from '../i18n/index.js';
import { LanguageSelect } from '../i18n/select.js';

/** The terminal socket's path (site/web-terminal.ts WEB_TERMINAL_PATH). */
const SOCKET_PATH = '/web/terminal';
/** Input is sent in frames of at most this many bytes (the site takes 64 KiB a frame). */
const INPUT_CHUNK = 16 * 1024;

type Status =
  | { kind: 'connecting' }
  | { kind: 'ready'; name: string; id: number }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'ended'; reason: string }
  | { kind: 'closed'; reason: string; code: number };

/** The client id (or name) from this page's URL: `/web/jump/<ref>`. */
function clientRef(): string {
  const m = /^\/web\/jump\/([^/]+)\/?$/.exec(location.pathname);
  try {
    return m ? decodeURIComponent(m[1]) : '';
  } catch {
    return '';
  }
}

function TerminalPage() {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting' });
  const [client, setClient] = useState<{ id: number; name: string } | null>(null);
  useLang(); // re-renders the page in the new language

  useEffect(() => {
    const term = new Terminal({ scrollback: 5000, cursorBlink: true, convertEol: false, fontSize: 14, lineHeight: 1.15, fontFamily: '"DejaVu Sans Mono", Menlo, Consolas, monospace' });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    term.focus();
    // Ctrl+Shift+C copies the selection; Ctrl+C copies it too while there is one (else it is ^C).
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown') return true;
      const copy = e.ctrlKey && e.code === 'KeyC' && (e.shiftKey || term.hasSelection());
      if (copy) {
        void navigator.clipboard?.writeText(term.getSelection()).catch(() => undefined);
        e.preventDefault();
        return false;
      }
      // Ctrl+Shift+V: let the browser paste (the paste event reaches the terminal as input).
      if (e.ctrlKey && e.shiftKey && e.code === 'KeyV') return false;
      return true;
    });

    let ended = false;
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${SOCKET_PATH}`);
    ws.binaryType = 'arraybuffer';
    const encoder = new TextEncoder();
    const sendBytes = (bytes: Uint8Array) => {
      if (ws.readyState !== WebSocket.OPEN || ended) return;
      for (let i = 0; i < bytes.length; i += INPUT_CHUNK) ws.send(bytes.subarray(i, i + INPUT_CHUNK));
    };
    ws.onopen = () => {
      const token = pageToken();
      ws.send(JSON.stringify({ t: 'open', client: clientRef(), cols: term.cols, rows: term.rows, ...(token ? { token } : {}) }));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') {
        term.write(new Uint8Array(ev.data as ArrayBuffer));
        return;
      }
      let m: { t?: string; [k: string]: unknown };
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.t === 'ready') {
        const c = m.client as { id: number; name: string };
        document.title = `Jump: ${c.name}`;
        setClient({ id: c.id, name: c.name });
        setStatus({ kind: 'ready', name: c.name, id: c.id });
      } else if (m.t === 'error') {
        ended = true;
        setStatus({ kind: 'error', code: String(m.code), message: String(m.message) });
      } else if (m.t === 'ended') {
        ended = true;
        setStatus({ kind: 'ended', reason: String(m.reason) });
      }
    };
    ws.onclose = (ev) => {
      term.options.disableStdin = true;
      term.options.cursorBlink = false;
      if (!ended) setStatus({ kind: 'closed', reason: ev.reason, code: ev.code });
    };
    const input = term.onData((s) => sendBytes(encoder.encode(s)));
    const binary = term.onBinary((s) => sendBytes(Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff)));
    const resized = term.onResize(({ cols, rows }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'resize', cols: Math.min(500, Math.max(2, cols)), rows: Math.min(200, Math.max(1, rows)) }));
    });
    let pending = 0;
    const onWindow = () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => fit.fit());
    };
    const observer = new ResizeObserver(onWindow);
    observer.observe(host.current!);
    window.addEventListener('resize', onWindow);
    return () => {
      window.removeEventListener('resize', onWindow);
      observer.disconnect();
      input.dispose();
      binary.dispose();
      resized.dispose();
      ws.close();
      term.dispose();
    };
  }, []);

  return (
    <div class="page">
      <div class="bar">
        <span class="title">{client ? t('terminal.titleClient', { name: client.name, id: client.id }) : t('terminal.titleRef', { ref: clientRef() })}</span>
        <span class="state" data-state={status.kind === 'closed' ? 'ended' : status.kind}>
          {status.kind === 'connecting' ? t('terminal.connecting') : status.kind === 'ready' ? t('terminal.connected') : status.kind === 'error' ? t('terminal.jumpFailed') : t('terminal.sessionEnded')}
        </span>
        <LanguageSelect />
      </div>
      {status.kind === 'error' && (
        <div class="banner error" role="alert" data-code={status.code}>
          {errorText(status.code, status.message)}
          {(status.code === 'UNAUTHENTICATED' || status.code === 'PASSWORD_CHANGE_REQUIRED') && (
            <>
              {' '}
              <a href="/login">{t('common.signIn')}</a>
            </>
          )}
        </div>
      )}
      {(status.kind === 'ended' || status.kind === 'closed') && (
        <div class="banner ended" role="alert">
          {t('terminal.ended', {
            reason: status.kind === 'ended' ? status.reason : status.reason ? t('terminal.closedWhy', { reason: status.reason, code: status.code }) : t('terminal.closed', { code: status.code }),
          })}
        </div>
      )}
      <div class="term" ref={host} />
    </div>
  );
}

render(<TerminalPage />, document.getElementById('app')!);
