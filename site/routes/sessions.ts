/**
 * Jump sessions: start one (`POST /api/v1/jump-clients/:ref/sessions`), list and show them, and
 * download a recording. The relay itself is a WebSocket upgrade handled in site/server.ts.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { JumpError } from '../../protocol/errors.js';
import { visibleGroupIds } from '../access.js';
import { SESSION_KINDS } from '../sessions.js';
import type { User } from '../store/store.js';
import { allow, me, parse, sessionJson, type ApiContext } from './common.js';

export function registerSessionsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;

  app.post<{ Params: { ref: string } }>('/api/v1/jump-clients/:ref/sessions', allow('user'), async (req, reply) => {
    const ref = parse(z.string().min(1).max(128), req.params.ref);
    const body = parse(z.strictObject({ public_key: z.string().max(512), kind: z.enum(SESSION_KINDS).default('shell') }), req.body);
    const r = await ctx.sessions.start(me(req), ref, body.public_key, body.kind).catch((err: unknown) => {
      ctx.metrics.jumpStarts.inc({ result: err instanceof JumpError ? err.code : 'INTERNAL_ERROR' });
      throw err;
    });
    ctx.metrics.jumpStarts.inc({ result: 'ok' });
    reply.code(201);
    return {
      session_id: r.sessionId,
      client_id: r.clientId,
      name: r.name,
      host_key: r.hostKey,
      relay_path: `/api/v1/sessions/${r.sessionId}/relay`,
    };
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
    return { items: items.map(sessionJson) };
  });
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', allow('user'), async (req) => ({
    item: sessionJson(await sessionVisible(me(req), req.params.id)),
  }));
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id/recording', allow('user'), async (req, reply) => {
    const s = await sessionVisible(me(req), req.params.id);
    if (!s.recording) throw new JumpError('JUMP_SESSION_NOT_FOUND', { detail: 'This session has no recording (every PTY is recorded, and SFTP sessions keep a file log; tunnels and plain commands have none).' });
    reply.type(s.recording.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/x-asciicast');
    return readFileSync(join(ctx.dataDir, 'recordings', basename(s.recording)), 'utf8');
  });
}
