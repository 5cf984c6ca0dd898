/**
 * Jump sessions: start one (`POST /api/v1/jump-clients/:ref/sessions`), list and show them, and
 * download a recording. The relay itself is a WebSocket upgrade handled in site/server.ts.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { ApiSessionDetail, ApiSessionStarted } from '../../protocol/api.js';
import { JumpError } from '../../protocol/errors.js';
import { visibleGroupIds } from '../access.js';
import { SESSION_KINDS } from '../sessions.js';
import type { SessionRecord, User } from '../store/store.js';
import { allow, me, parse, sessionJson, type ApiContext } from './common.js';

/**
 * A session in the API: sessionJson plus what was kept of it (security issue #12 item 12):
 * `recording` (a terminal recording exists), `file_log` (an SFTP file log exists; a `proxy`
 * session may have both) and `commands` (every exec command line, oldest first).
 */
export function sessionItem(s: SessionRecord): ApiSessionDetail {
  return { ...sessionJson(s), recording: s.recording !== null, file_log: s.fileLog !== null, commands: s.commands };
}

export function registerSessionsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.post<{ Params: { ref: string } }>('/api/v1/jump-clients/:ref/sessions', allow('user'), async (req, reply) => {
    const ref = parse(z.string().min(1).max(128), req.params.ref, 'ref');
    const body = parse(z.strictObject({ public_key: z.string().max(512), kind: z.enum(SESSION_KINDS).default('shell') }), req.body);
    const r = await ctx.sessions.start(me(req), ref, body.public_key, body.kind).catch((err: unknown) => {
      ctx.metrics.jumpStarts.inc({ result: err instanceof JumpError ? err.code : 'INTERNAL_ERROR' });
      throw err;
    });
    ctx.metrics.jumpStarts.inc({ result: 'ok' });
    reply.code(201);
    const started: ApiSessionStarted = {
      session_id: r.sessionId,
      client_id: r.clientId,
      name: r.name,
      host_key: r.hostKey,
      relay_path: `/api/v1/sessions/${r.sessionId}/relay`,
    };
    return started;
  });
  const sessionVisible = async (user: User, id: string) => {
    const s = await store.getSession(id);
    if (!s) throw new JumpError('JUMP_SESSION_NOT_FOUND');
    if (user.role === 'admin' || s.userId === user.id) return s;
    const visible = await visibleGroupIds(store, user);
    const c = await store.getClient(s.clientId);
    if (!c || (visible !== null && !visible.includes(c.jumpGroupId))) throw new JumpError('JUMP_SESSION_NOT_FOUND');
    return s;
  };
  app.get('/api/v1/sessions', allow('user'), async (req) => {
    const q = parse(
      z.strictObject({ client: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(10_000).default(100) }),
      req.query,
    );
    const user = me(req);
    const items = await store.listSessions({ visibleGroupIds: await visibleGroupIds(store, user), userId: user.id, clientId: q.client, limit: q.limit });
    return { items: items.map(sessionItem) };
  });
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', allow('user'), async (req) => ({
    item: sessionItem(await sessionVisible(me(req), req.params.id)),
  }));
  // `?part=terminal` (asciicast), `?part=file_log` (SFTP operations, JSON lines); without it, the
  // terminal recording when there is one, else the file log.
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id/recording', allow('user'), async (req, reply) => {
    const q = parse(z.strictObject({ part: z.enum(['terminal', 'file_log']).optional() }), req.query);
    const s = await sessionVisible(me(req), req.params.id);
    const file = q.part === 'terminal' ? s.recording : q.part === 'file_log' ? s.fileLog : (s.recording ?? s.fileLog);
    if (!file) {
      throw new JumpError('JUMP_SESSION_NOT_FOUND', {
        detail: `This session has no ${q.part === 'file_log' ? 'SFTP file log' : q.part === 'terminal' ? 'terminal recording' : 'recording'} (every PTY is recorded, SFTP keeps a file log, commands are listed in the session's "commands"; tunnels have none).`,
      });
    }
    reply.type(file.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/x-asciicast');
    return readFileSync(join(ctx.dataDir, 'recordings', basename(file)), 'utf8');
  });
}
