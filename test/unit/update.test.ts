/**
 * Self-update's agent-side mechanics on real files (issue #17, agent/update.ts): verification
 * before anything else, the atomic swap keeping jump-client.old, the state file's trust rule, the
 * watchdog's healthy / rolled-back outcomes (with a fake runner: the restart's result is scripted,
 * the files are real), update-key pinning, the download's bound and resume offset (a real TLS
 * WebSocket server), and the control connection's update messages and hello platform.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfig, pinUpdateKey } from '../../agent/config.js';
import { Connection } from '../../agent/connection.js';
import {
  Updater,
  claimState,
  downloadBuild,
  monotonicMs,
  readUpdateState,
  runWatchdog,
  swapInBuild,
  verifyBuildFile,
  writeUpdateState,
  type RunnerActions,
  type UpdateState,
} from '../../agent/update.js';
import { ManualClock } from '../../protocol/clock.js';
import { newEd25519Key, sitePin } from '../../protocol/handshake.js';
import type { Stats, UpdateOffer } from '../../protocol/messages.js';
import { UPDATE_ATTACH_HEADERS, sha256Of, signBuild } from '../../protocol/update.js';
import { loadSiteIdentity } from '../../site/identity.js';
import { fakeSite, silentLog } from '../helpers/fake-site.js';
import { cleanup, tempDir } from '../helpers/processes.js';

afterAll(cleanup);

const key = newEd25519Key();
const pin = sitePin(key);

function signedOffer(bytes: Buffer, version = '0.2.0+abcdef123456', signer = key) {
  const sha256 = sha256Of(bytes);
  return { platform: 'linux-x64' as const, version, size: bytes.length, sha256, sig: signBuild(signer, { platform: 'linux-x64', version, sha256, size: bytes.length }) };
}

describe('verifyBuildFile: size, sha256 and signature before anything else', () => {
  const dir = tempDir('jump-upd-unit-');
  const bytes = Buffer.from('#!/bin/sh\necho new version\n'.repeat(1000));
  const file = join(dir, 'b.part');
  writeFileSync(file, bytes);

  it('accepts the signed bytes', async () => {
    expect(await verifyBuildFile(file, signedOffer(bytes), pin)).toEqual({ ok: true });
  });
  it('refuses one changed byte', async () => {
    const t = Buffer.from(bytes);
    t[500] ^= 0x20;
    writeFileSync(join(dir, 't.part'), t);
    const r = await verifyBuildFile(join(dir, 't.part'), signedOffer(bytes), pin);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/sha256/) });
  });
  it('refuses a signature by another key, and a signature over another version or platform', async () => {
    expect(await verifyBuildFile(file, signedOffer(bytes, undefined, newEd25519Key()), pin)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    const o = signedOffer(bytes, '0.2.0+abcdef123456');
    expect(await verifyBuildFile(file, { ...o, version: '0.2.1+abcdef123456' }, pin)).toMatchObject({ ok: false });
    expect(await verifyBuildFile(file, { ...o, platform: 'linux-arm64' }, pin)).toMatchObject({ ok: false });
  });
  it('refuses a short or long file, and an offer whose hash matches bytes the signature does not cover', async () => {
    writeFileSync(join(dir, 's.part'), bytes.subarray(1));
    expect(await verifyBuildFile(join(dir, 's.part'), signedOffer(bytes), pin)).toMatchObject({ ok: false, reason: expect.stringMatching(/size/) });
    const other = Buffer.from(bytes);
    other[0] ^= 1;
    writeFileSync(join(dir, 'o.part'), other);
    // The offer names the tampered bytes' sha256, but the signature is over the original's.
    const o = signedOffer(bytes);
    expect(await verifyBuildFile(join(dir, 'o.part'), { ...o, sha256: sha256Of(other) }, pin)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
  });
});

describe('swapInBuild', () => {
  it('renames the new build over the executable atomically and keeps the old one as jump-client.old', () => {
    const dir = tempDir('jump-upd-swap-');
    const exe = join(dir, 'jump-client');
    writeFileSync(exe, 'old', { mode: 0o755 });
    writeFileSync(join(dir, 'n.part'), 'new', { mode: 0o600 });
    writeFileSync(join(dir, 'jump-client.old'), 'stale');
    swapInBuild(exe, join(dir, 'n.part'), join(dir, 'jump-client.old'));
    expect(readFileSync(exe, 'utf8')).toBe('new');
    expect(readFileSync(join(dir, 'jump-client.old'), 'utf8')).toBe('old');
    expect(existsSync(join(dir, 'n.part'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['jump-client', 'jump-client.old']);
  });
  it('the Windows way renames the running exe aside first', () => {
    const dir = tempDir('jump-upd-swapw-');
    const exe = join(dir, 'jump-client.exe');
    writeFileSync(exe, 'old');
    writeFileSync(join(dir, 'n.part'), 'new');
    swapInBuild(exe, join(dir, 'n.part'), join(dir, 'jump-client.old.exe'), 'win32');
    expect(readFileSync(exe, 'utf8')).toBe('new');
    expect(readFileSync(join(dir, 'jump-client.old.exe'), 'utf8')).toBe('old');
  });
});

/** An install-dir-like layout with a swapped build and its state file. */
function swapped(healthTimeoutMs: number): { dir: string; stateFile: string; state: UpdateState } {
  const dir = tempDir('jump-upd-wd-');
  mkdirSync(join(dir, 'update'), { mode: 0o700 });
  writeFileSync(join(dir, 'jump-client'), 'NEW', { mode: 0o755 });
  writeFileSync(join(dir, 'jump-client.old'), 'OLD', { mode: 0o755 });
  const state: UpdateState = {
    v: 1,
    phase: 'installing',
    from: '0.1.0+aaaaaaaaaaaa',
    to: '0.2.0+bbbbbbbbbbbb',
    install_dir: dir,
    exe: join(dir, 'jump-client'),
    old: join(dir, 'jump-client.old'),
    runner: 'init-script',
    health_timeout_ms: healthTimeoutMs,
    deadline_mono_ms: monotonicMs() + healthTimeoutMs,
    deadline_at: new Date(Date.now() + healthTimeoutMs).toISOString(),
  };
  const stateFile = join(dir, 'update', 'state.json');
  writeUpdateState(stateFile, state);
  return { dir, stateFile, state };
}

/** A runner whose restart result is scripted; it records what the watchdog asked and what binary was live then. */
function fakeRunner(restartResult: string | null) {
  const calls: string[] = [];
  const runner: RunnerActions = {
    restart: async (s) => {
      calls.push(`restart:${readFileSync(s.exe, 'utf8')}`);
      return restartResult;
    },
    stop: async (s) => void calls.push(`stop:${readFileSync(s.exe, 'utf8')}`),
    start: async (s) => {
      calls.push(`start:${readFileSync(s.exe, 'utf8')}`);
      return null;
    },
  };
  return { runner, calls };
}

describe('the watchdog', () => {
  it('a build that exits at once: stops, restores the old binary, starts it, and records the reason', async () => {
    const { dir, stateFile } = swapped(60_000);
    const { runner, calls } = fakeRunner('exited at once with status 7');
    expect(await runWatchdog(stateFile, runner)).toBe('rolled back');
    expect(calls).toEqual(['restart:NEW', 'stop:NEW', 'start:OLD']);
    expect(readFileSync(join(dir, 'jump-client'), 'utf8')).toBe('OLD');
    expect(existsSync(join(dir, 'jump-client.old'))).toBe(false);
    expect(readUpdateState(stateFile)).toMatchObject({ phase: 'failed', reason: 'exited at once with status 7' });
  });

  it('a build that never comes online: rolled back once the deadline passes, "did not come online within N s"', async () => {
    const { dir, stateFile } = swapped(600);
    const { runner, calls } = fakeRunner(null);
    const t0 = Date.now();
    expect(await runWatchdog(stateFile, runner)).toBe('rolled back');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(calls).toEqual(['restart:NEW', 'stop:NEW', 'start:OLD']);
    expect(readFileSync(join(dir, 'jump-client'), 'utf8')).toBe('OLD');
    expect(readUpdateState(stateFile)).toMatchObject({ phase: 'failed', reason: 'did not come online within 1 s' });
  });

  it('a build that comes online: the new version marks healthy (Updater.onWelcome), the old binary and the state go', async () => {
    const { dir, stateFile, state } = swapped(20_000);
    const { runner, calls } = fakeRunner(null);
    const cfgDir = join(dir, 'config');
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\n');
    const updater = new Updater({
      cfg: new AgentConfig(cfgDir),
      installDir: dir,
      version: state.to,
      platform: 'linux-x64',
      log: silentLog,
      send: () => true,
      siteFingerprint: () => null,
    });
    const watching = runWatchdog(stateFile, runner);
    setTimeout(() => updater.onWelcome({ t: 'welcome', client_id: 1, heartbeat_ms: 1000, stats_interval_ms: 60_000 }), 300);
    expect(await watching).toBe('healthy');
    expect(calls).toEqual(['restart:NEW']);
    expect(readFileSync(join(dir, 'jump-client'), 'utf8')).toBe('NEW');
    expect(existsSync(join(dir, 'jump-client.old'))).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
  });

  it('exactly one side finishes: a new version welcomed after the watchdog took the state for a rollback leaves the old binary alone', () => {
    const { dir, stateFile, state } = swapped(20_000);
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\n');
    expect(claimState(stateFile, 'rollback')).toBe(true);
    const updater = new Updater({ cfg: new AgentConfig(join(dir, 'config')), installDir: dir, version: state.to, platform: 'linux-x64', log: silentLog, send: () => true, siteFingerprint: () => null });
    updater.onWelcome({ t: 'welcome', client_id: 1, heartbeat_ms: 1000, stats_interval_ms: 60_000 });
    expect(readFileSync(join(dir, 'jump-client.old'), 'utf8')).toBe('OLD');
    expect(existsSync(`${stateFile}.rollback`)).toBe(true);
    // And the other way round: once the new version took it, the watchdog cannot.
    expect(claimState(stateFile, 'healthy')).toBe(false);
  });

  it('the restored old version reports UPDATE_FAILED with the reason at its welcome, once, and refuses that version for a while', async () => {
    const { dir, stateFile, state } = swapped(60_000);
    await runWatchdog(stateFile, fakeRunner('exited at once with status 3').runner);
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\n');
    const sent: unknown[] = [];
    const cfg = new AgentConfig(join(dir, 'config'));
    cfg.update({ update_pin: pin });
    const updater = new Updater({ cfg, installDir: dir, version: state.from, platform: 'linux-x64', log: silentLog, send: (m) => !!sent.push(m), siteFingerprint: () => null });
    const welcome = { t: 'welcome' as const, client_id: 1, heartbeat_ms: 1000, stats_interval_ms: 60_000, update_pin: pin };
    updater.onWelcome(welcome);
    updater.onWelcome(welcome);
    expect(sent).toEqual([{ t: 'update_status', version: state.to, state: 'failed', code: 'UPDATE_FAILED', reason: 'exited at once with status 3' }]);
    expect(existsSync(stateFile)).toBe(false);
    // The same build offered again at once (before the site read the report): refused, no download.
    const offer = { t: 'update_offer', ...signedOffer(Buffer.from('x'), state.to), token: 'a'.repeat(43), health_timeout_ms: 10_000 } as UpdateOffer;
    updater.onMessage(offer);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.at(-1)).toMatchObject({ state: 'failed', code: 'UPDATE_FAILED', reason: expect.stringMatching(/rolled back a short while ago/) });
    expect(existsSync(join(dir, 'update', `${state.to}.part`))).toBe(false);
  });
});

describe('the state file is trusted only when it is safe', () => {
  it('refuses a group- or world-writable file, a symlink, and another owner', () => {
    const { dir, stateFile, state } = swapped(1000);
    expect(readUpdateState(stateFile)).toMatchObject({ to: state.to });
    chmodSync(stateFile, 0o620);
    expect(() => readUpdateState(stateFile)).toThrow(/group- or world-writable/);
    chmodSync(stateFile, 0o600);
    const link = join(dir, 'update', 'link.json');
    symlinkSync(stateFile, link);
    expect(() => readUpdateState(link)).toThrow(/not a regular file/);
    expect(() => readUpdateState(stateFile, (process.geteuid?.() ?? 0) + 1)).toThrow(/owned by uid/);
    if (process.geteuid?.() === 0) {
      chownSync(stateFile, 65534, 65534);
      expect(() => readUpdateState(stateFile)).toThrow(/owned by uid 65534/);
    }
  });
  it('the watchdog refuses an untrusted state file and touches nothing', async () => {
    const { dir, stateFile } = swapped(1000);
    chmodSync(stateFile, 0o666);
    const { runner, calls } = fakeRunner(null);
    await expect(runWatchdog(stateFile, runner)).rejects.toThrow(/not trusted/);
    expect(calls).toEqual([]);
    expect(readFileSync(join(dir, 'jump-client'), 'utf8')).toBe('NEW');
  });
  it('the watchdog refuses a state file naming paths outside its own install dir', async () => {
    const { dir, stateFile, state } = swapped(1000);
    const elsewhere = tempDir('jump-upd-else-');
    writeUpdateState(stateFile, { ...state, exe: join(elsewhere, 'jump-client'), old: join(elsewhere, 'evil') });
    const { runner, calls } = fakeRunner(null);
    await expect(runWatchdog(stateFile, runner)).rejects.toThrow(/outside its install dir/);
    expect(calls).toEqual([]);
    expect(readFileSync(join(dir, 'jump-client'), 'utf8')).toBe('NEW');
  });
});

describe('update-key pinning', () => {
  it('pins the first key, keeps it, and reports another one as a mismatch without replacing it', () => {
    const cfg = new AgentConfig(join(tempDir('jump-upd-pin-'), 'cfg'));
    const other = sitePin(newEd25519Key());
    expect(pinUpdateKey(cfg, undefined)).toBe('none');
    expect(pinUpdateKey(cfg, pin)).toBe('pinned');
    expect(pinUpdateKey(cfg, pin)).toBe('same');
    expect(pinUpdateKey(cfg, other)).toBe('mismatch');
    expect(new AgentConfig(cfg.dir).data.update_pin).toBe(pin);
  });
  it('an agent whose pin differs from the welcome refuses offers with UPDATE_SIGNATURE_INVALID', async () => {
    const dir = tempDir('jump-upd-pinm-');
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\n');
    const cfg = new AgentConfig(join(dir, 'config'));
    cfg.update({ update_pin: pin });
    const sent: unknown[] = [];
    const updater = new Updater({ cfg, installDir: dir, version: '0.1.0+aaaaaaaaaaaa', platform: 'linux-x64', log: silentLog, send: (m) => !!sent.push(m), siteFingerprint: () => null });
    updater.onWelcome({ t: 'welcome', client_id: 1, heartbeat_ms: 1000, stats_interval_ms: 60_000, update_pin: sitePin(newEd25519Key()) });
    updater.onMessage({ t: 'update_offer', ...signedOffer(Buffer.from('x')), token: 'a'.repeat(43), health_timeout_ms: 10_000 } as UpdateOffer);
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual([expect.objectContaining({ state: 'failed', code: 'UPDATE_SIGNATURE_INVALID', reason: expect.stringMatching(/differs from the pinned/) })]);
    expect(cfg.data.update_pin).toBe(pin);
  });
});

describe('Windows', () => {
  it('refuses an offer before any download until its service runner is wired (UPDATE_FAILED, nothing written)', async () => {
    const dir = tempDir('jump-upd-win-');
    writeFileSync(join(dir, 'install.conf'), 'mode=user\nrun_as=nobody\n');
    const cfg = new AgentConfig(join(dir, 'config'));
    cfg.update({ update_pin: pin, site_url: 'https://127.0.0.1:1' });
    const sent: unknown[] = [];
    const updater = new Updater({ cfg, installDir: dir, version: '0.1.0+aaaaaaaaaaaa', platform: 'linux-x64', os: 'win32', log: silentLog, send: (m) => !!sent.push(m), siteFingerprint: () => null });
    updater.onMessage({ t: 'update_offer', ...signedOffer(Buffer.from('x')), token: 'a'.repeat(43), health_timeout_ms: 10_000 } as UpdateOffer);
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual([expect.objectContaining({ state: 'failed', code: 'UPDATE_FAILED', reason: expect.stringMatching(/Windows/) })]);
    expect(existsSync(join(dir, 'update'))).toBe(false);
  });
});

describe('downloadBuild on a real TLS WebSocket', () => {
  /** A download server sending `frames` (Buffers, or strings as text) and recording the offset header. */
  async function server(frames: (Buffer | string)[]) {
    const id = await loadSiteIdentity(tempDir('jump-upd-dl-'));
    const https = createServer({ key: id.tlsKeyPem, cert: id.tlsCertPem, minVersion: 'TLSv1.3' });
    const wss = new WebSocketServer({ server: https });
    const offsets: string[] = [];
    wss.on('connection', (ws, req) => {
      offsets.push(String(req.headers[UPDATE_ATTACH_HEADERS.offset]));
      for (const f of frames) ws.send(f, { binary: typeof f !== 'string' });
      ws.close(1000);
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    const fingerprint = id.fingerprint.replace(/^SHA256:/, '');
    return { url, offsets, fingerprint, close: () => (wss.close(), https.close(), https.closeAllConnections()) };
  }

  it('resumes from the part size (offset header) and appends the rest', async () => {
    const s = await server([Buffer.from('world')]);
    const part = join(tempDir('jump-upd-dlp-'), 'v.part');
    writeFileSync(part, 'hello ');
    expect(await downloadBuild({ siteUrl: s.url, token: 't', size: 11, partFile: part, fingerprint: s.fingerprint, log: silentLog })).toBe(11);
    expect(s.offsets).toEqual(['6']);
    expect(readFileSync(part, 'utf8')).toBe('hello world');
    s.close();
  });

  it('never writes past the offered size: the part is deleted', async () => {
    const s = await server([Buffer.alloc(8), Buffer.alloc(8)]);
    const part = join(tempDir('jump-upd-dlb-'), 'v.part');
    await expect(downloadBuild({ siteUrl: s.url, token: 't', size: 12, partFile: part, fingerprint: s.fingerprint, log: silentLog })).rejects.toThrow(/more than the offered 12 bytes/);
    expect(existsSync(part)).toBe(false);
    s.close();
  });

  it('refuses text frames, and a server whose certificate is not the control connection’s', async () => {
    const s = await server(['text']);
    const part = join(tempDir('jump-upd-dlt-'), 'v.part');
    await expect(downloadBuild({ siteUrl: s.url, token: 't', size: 12, partFile: part, fingerprint: s.fingerprint, log: silentLog })).rejects.toThrow(/text/);
    await expect(downloadBuild({ siteUrl: s.url, token: 't', size: 12, partFile: part, fingerprint: 'AA:BB', log: silentLog })).rejects.toThrow(/another certificate/);
    s.close();
  });
});

describe('the control connection and self-update', () => {
  function conn(platform?: 'linux-x64') {
    const site = fakeSite();
    const updates: unknown[] = [];
    const c = new Connection({
      identity: site.identity,
      stats: async () => ({}) as Stats,
      log: silentLog,
      agentVersion: '0.1.0+abcdef123456',
      platform,
      clock: new ManualClock(),
      createSocket: site.createSocket,
      onEnrolled: () => undefined,
      onOnline: () => undefined,
      onSessionOpen: () => undefined,
      onSessionClose: () => undefined,
      onUpdate: (m) => updates.push(m),
    });
    const done = c.run();
    return { c, socket: site.sockets[0], done, updates };
  }

  it('says its platform in hello (a packaged build), and none unpackaged', () => {
    const a = conn('linux-x64');
    a.socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    expect(a.socket.sent[0]).toMatchObject({ t: 'hello', agent_version: '0.1.0+abcdef123456', platform: 'linux-x64' });
    const b = conn();
    b.socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    expect(b.socket.sent[0]).not.toHaveProperty('platform');
  });

  it('hands update_offer and update_later to the updater and stays connected', () => {
    const { c, socket, updates } = conn('linux-x64');
    socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    const offer = { t: 'update_offer', ...signedOffer(Buffer.from('x')), token: 'a'.repeat(43), health_timeout_ms: 10_000 };
    socket.receive(offer as never);
    socket.receive({ t: 'update_later', retry_after_ms: 5_000 });
    expect(updates).toEqual([offer, { t: 'update_later', retry_after_ms: 5_000 }]);
    expect(c.state).toBe('connected');
    expect(socket.closed).toBe(false);
  });
});

