/**
 * The console end of a Jump: ask the site for a session, attach the relay socket, and run SSH
 * (ssh2 as the client) over it, end to end with the jump client.
 *
 * Keys: `jump jump` uses a fresh Ed25519 key per session; `jump proxy` (OpenSSH's ProxyCommand)
 * names the key OpenSSH will use, `<config dir>/id_ed25519`, made by `jump ssh-config`.
 * The host key is checked against the jump client's identity key as the site reports it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { sessionStream } from '../protocol/ws-stream.js';
import { JumpError } from '../protocol/errors.js';
import { opensshPrivateKey, parseSshPublicKey, sshPublicKey, sshPublicKeyBlob } from '../protocol/ssh-keys.js';
import { newEd25519Key } from '../protocol/handshake.js';
import type { SiteClient } from './http.js';
import type { ApiSessionStarted } from '../protocol/api.js';

/** What the site answers a session start with (protocol/api.ts). */
export type SessionInfo = ApiSessionStarted;

/** Asks the site for a session into `ref` and attaches the relay. Throws the site's JumpError codes. */
export async function openSession(
  site: SiteClient,
  ref: string,
  kind: 'shell' | 'exec' | 'sftp' | 'proxy' | 'tunnel',
  publicKey: string,
): Promise<{ info: SessionInfo; stream: Duplex; ws: WebSocket }> {
  const info = await site.request<SessionInfo>('POST', `/api/v1/jump-clients/${encodeURIComponent(ref)}/sessions`, { public_key: publicKey, kind });
  const ws = new WebSocket(site.siteUrl.replace(/^https/, 'wss') + info.relay_path, {
    headers: { authorization: `Bearer ${site.token}` },
    perMessageDeflate: false,
    ...(site.certPem ? { ca: site.certPem, checkServerIdentity: () => undefined } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (err) => reject(new JumpError('SITE_UNREACHABLE', { detail: err.message })));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(new JumpError('JUMP_SESSION_NOT_FOUND', { detail: `relay answered HTTP ${res.statusCode}` }));
    });
  });
  return { info, stream: sessionStream(ws), ws };
}

/** A fresh Ed25519 key: `{ privatePem (OpenSSH format), publicLine }`. */
export function ephemeralKey(): { privatePem: string; publicLine: string } {
  const privateKey = newEd25519Key();
  return { privatePem: opensshPrivateKey(privateKey, 'jump-ephemeral'), publicLine: sshPublicKey(privateKey) };
}

/**
 * The console's SSH identity for OpenSSH, `<dir>/id_ed25519` (0600) and `.pub`, made when missing.
 * Returns the file path and the public key line.
 */
export function jumpIdentity(dir: string): { file: string; publicLine: string } {
  const file = join(dir, 'id_ed25519');
  if (!existsSync(file)) {
    const privateKey = newEd25519Key();
    writeFileSync(file, opensshPrivateKey(privateKey, 'jump'), { mode: 0o600, flag: 'wx' });
    writeFileSync(`${file}.pub`, `${sshPublicKey(privateKey)} jump\n`, { mode: 0o644 });
  }
  return { file, publicLine: readFileSync(`${file}.pub`, 'utf8').trim() };
}

/** Reads the public half of an OpenSSH identity (`FILE.pub`), checking it is an Ed25519 key. */
export function identityPublicLine(file: string): string {
  const pub = `${file}.pub`;
  if (!existsSync(pub)) throw new JumpError('VALIDATION_FAILED', { field: '--identity', detail: `${pub} does not exist.` });
  const line = readFileSync(pub, 'utf8').trim();
  try {
    parseSshPublicKey(line);
  } catch {
    throw new JumpError('VALIDATION_FAILED', { field: '--identity', detail: 'jump accepts ssh-ed25519 keys only.' });
  }
  return line.split(/\s+/).slice(0, 2).join(' ');
}

/**
 * Runs SSH over `stream`, authenticating with `privatePem`, and accepting only `hostKey`.
 * Resolves with a ready client. Throws JUMP_TICKET_INVALID when the jump client refuses the key,
 * or JUMP_INTERNAL_ERROR when the host key is not the jump client's.
 */
export function connectSsh(stream: Duplex, hostKey: string, privatePem: string): Promise<ssh2.Client> {
  const expected = sshPublicKeyBlob(parseSshPublicKey(hostKey));
  let hostKeyMismatch = false;
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    conn.once('ready', () => resolve(conn));
    conn.once('error', (err: Error & { level?: string }) => {
      if (hostKeyMismatch) reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: 'The host key is not the jump client’s identity key.' }));
      else if (err.level === 'client-authentication') reject(new JumpError('JUMP_TICKET_INVALID'));
      else reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: err.message }));
    });
    conn.connect({
      sock: stream as unknown as import('node:net').Socket,
      username: 'jump',
      privateKey: privatePem,
      readyTimeout: 30_000,
      keepaliveInterval: 30_000,
      hostVerifier: (key: Buffer) => {
        hostKeyMismatch = !Buffer.from(key).equals(expected);
        return !hostKeyMismatch;
      },
    });
  });
}

/** Writes `content` to `file` with mode 0600, creating the directory if needed. */
export function writePrivate(file: string, content: string): void {
  if (!existsSync(dirname(file))) throw new Error(`${dirname(file)} does not exist`);
  writeFileSync(file, content, { mode: 0o600 });
}
