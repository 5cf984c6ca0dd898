import { describe, expect, it } from 'vitest';
import { Connection, canTransition, type ConnectionOutcome, type ConnectionState } from '../../agent/connection.js';
import { ManualClock } from '../../protocol/clock.js';
import type { Stats } from '../../protocol/messages.js';
import { fakeSite, silentLog } from '../helpers/fake-site.js';

function connection(clock: ManualClock, uninstall = false) {
  const site = fakeSite();
  const online: number[] = [];
  const conn = new Connection({
    identity: site.identity,
    stats: async () => ({}) as Stats,
    log: silentLog,
    agentVersion: '9.9.9',
    clock,
    uninstall,
    createSocket: site.createSocket,
    onEnrolled: () => undefined,
    onOnline: (id) => online.push(id),
    onSessionOpen: () => undefined,
    onSessionClose: () => undefined,
  });
  const done: Promise<ConnectionOutcome> = conn.run();
  return { conn, socket: site.sockets[0], done, online };
}

describe('agent connection states', () => {
  it('moves initial -> connecting -> handshaking -> authenticating -> connected -> closed', async () => {
    const clock = new ManualClock();
    const seen: ConnectionState[] = [];
    const { conn, socket, done, online } = connection(clock);
    seen.push(conn.state);
    socket.open();
    seen.push(conn.state);
    socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    seen.push(conn.state);
    expect(online).toEqual([7]);
    expect(conn.isOnline).toBe(true);
    socket.end(1001, 'site stopping');
    seen.push(conn.state);
    expect(seen).toEqual(['connecting', 'handshaking', 'connected', 'closed']);
    expect(await done).toMatchObject({ online: true, error: null, closeReason: 'site stopping' });
    expect(socket.sent.map((m) => m.t)).toEqual(['hello', 'auth']);
  });

  it('accepts a welcome with a field a newer site added (forward compatible), but not a known field with a bad value', async () => {
    const { conn, socket, online } = connection(new ManualClock());
    socket.handshake({ clientId: 7, heartbeatMs: 1000, extra: { update_offer: { version: '9.0.0' }, max_offline_ms: 86_400_000 } });
    expect(online).toEqual([7]);
    expect(conn.isOnline).toBe(true);
    socket.end(1000, 'done');

    const bad = connection(new ManualClock());
    bad.socket.handshake({ clientId: 7, heartbeatMs: 1000, extra: { max_offline_ms: -5 } });
    expect((await bad.done).error?.code).toBe('PROTOCOL_INVALID_MESSAGE');
    expect(bad.online).toEqual([]);
  });

  it('refuses transitions the protocol does not allow', () => {
    expect(canTransition('initial', 'connecting')).toBe(true);
    expect(canTransition('connected', 'handshaking')).toBe(false);
    expect(canTransition('initial', 'connected')).toBe(false);
    for (const to of ['initial', 'connecting', 'handshaking', 'authenticating', 'connected', 'closed'] as const) {
      expect(canTransition('closed', to)).toBe(false);
    }
    const { conn, socket } = connection(new ManualClock());
    socket.terminate();
    expect(() => conn.run()).toThrow(/illegal transition closed -> connecting/);
  });

  it('refuses a welcome before the challenge (PROTOCOL_INVALID_MESSAGE) and never gets online', async () => {
    const { socket, done, online } = connection(new ManualClock());
    socket.open();
    socket.receive({ t: 'welcome', client_id: 7, heartbeat_ms: 1000, stats_interval_ms: 60_000 });
    const outcome = await done;
    expect(outcome.online).toBe(false);
    expect(outcome.error?.code).toBe('PROTOCOL_INVALID_MESSAGE');
    expect(online).toEqual([]);
  });

  it('in uninstall mode sends `uninstalled` after welcome, and no heartbeat ever', () => {
    const clock = new ManualClock();
    const { socket, online } = connection(clock, true);
    socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    clock.advance(10_000);
    expect(socket.sent.map((m) => m.t)).toEqual(['hello', 'auth', 'uninstalled']);
    expect(online).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('agent heartbeat (fake clock)', () => {
  it('beats once per interval while the site answers, and stays connected', () => {
    const clock = new ManualClock();
    const { conn, socket } = connection(clock);
    socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      const last = socket.sent.at(-1)!;
      if (last.t === 'hb') socket.receive({ t: 'hb_ack', seq: last.seq });
    }
    const beats = socket.sent.filter((m) => m.t === 'hb');
    expect(beats.map((m) => (m.t === 'hb' ? m.seq : -1))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(conn.state).toBe('connected');
  });

  it('declares the site lost (HEARTBEAT_LOST) after 1.5 silent intervals, not before, and stops its timers', async () => {
    const clock = new ManualClock();
    const { conn, socket, done } = connection(clock);
    socket.handshake({ clientId: 7, heartbeatMs: 1000 });
    clock.advance(1500);
    expect(conn.state).toBe('connected');
    clock.advance(250);
    expect(conn.state).toBe('closed');
    const outcome = await done;
    expect(outcome.error?.code).toBe('HEARTBEAT_LOST');
    expect(outcome.online).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});
