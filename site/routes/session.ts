/**
 * Login, logout and the signed-in user: `POST /api/v1/login`, `POST /api/v1/logout`,
 * `GET /api/v1/me`, `POST /api/v1/me/password` (docs/api.md).
 *
 * Login is throttled per address and per account and hashes through a bounded queue (site/auth.ts,
 * security issue #12 item 8); failures are audited as `user.login_failed` (never the password).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { JumpError } from '../../protocol/errors.js';
import { TOKEN_TTL_MS, bearerToken, hashPassword, hashToken, needsRehash, newToken, verifyPassword } from '../auth.js';
import type { User } from '../store/store.js';
import { checkPassword, removeBootstrapPasswordFile, userJson } from '../users.js';
import { allow, me, parse, type ApiContext } from './common.js';
import { addressKey } from '../source-address.js';

/** A hash to verify against when the user does not exist, so timing does not reveal user names. */
let dummyHash: Promise<string> | null = null;

export function registerSessionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, throttle, hashQueue } = ctx;

  /** Checks `password` against `user` (or the dummy hash) under the throttle and the hashing queue. */
  const checkLogin = async (req: FastifyRequest, account: string, user: User | null, password: string): Promise<boolean> => {
    const address = addressKey(req.socket.remoteAddress ?? req.ip);
    const trusted = throttle.begin(address, account, Date.now());
    let ok = false;
    let checked = false;
    try {
      dummyHash ??= hashPassword('not a real password');
      const stored = user?.passwordHash ?? (await dummyHash);
      ok = (await hashQueue.run(() => verifyPassword(password, stored), trusted)) && user !== null;
      checked = true;
    } finally {
      // An attempt refused by a full hashing queue was not a guess: it counts for nobody.
      throttle.end(address, account, ok || !checked, Date.now());
    }
    // The owner's address from now on: the account's own limit no longer refuses it (site/auth.ts).
    if (ok) throttle.trust(address, account, Date.now());
    if (!ok) {
      await store.audit({
        at: Date.now(),
        userId: user?.id ?? null,
        action: 'user.login_failed',
        target: `user:${account}`,
        detail: JSON.stringify({ address: req.socket.remoteAddress ?? null, route: req.routeOptions.url }),
      });
    }
    return ok;
  };

  app.post('/api/v1/login', allow('public'), async (req) => {
    const body = parse(z.strictObject({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }), req.body);
    const user = await store.getUserByName(body.user);
    if (!(await checkLogin(req, body.user, user, body.password)) || !user) {
      req.log.warn({ user: body.user }, 'login failed');
      throw new JumpError('LOGIN_FAILED');
    }
    // Told only after the right password: a stranger learns nothing about the account.
    if (user.disabled) throw new JumpError('USER_DISABLED', { detail: `User: ${user.name}.` });
    if (needsRehash(user.passwordHash)) {
      // Old, cheaper parameters: store the same password at the current cost. Best effort.
      await hashQueue
        .run(() => hashPassword(body.password))
        .then((h) => store.replacePasswordHash(user.id, user.passwordHash, h))
        .catch((err: unknown) => req.log.warn({ err }, 'password rehash skipped'));
    }
    const { token, hash } = newToken();
    const now = Date.now();
    await store.createToken({ userId: user.id, tokenHash: hash, now, expiresAt: now + TOKEN_TTL_MS });
    await store.audit({ at: now, userId: user.id, action: 'user.login', target: `user:${user.name}` });
    return {
      token,
      user: userJson(user),
      expires_at: new Date(now + TOKEN_TTL_MS).toISOString(),
      idle_timeout_s: Math.round(ctx.tokenIdleMs / 1000),
      ...(user.mustChangePassword ? { password_change_required: true } : {}),
    };
  });

  app.post('/api/v1/logout', allow('user', { duringPasswordChange: true }), async (req) => {
    // The access hook let only a well-formed token through.
    const token = bearerToken(req.headers.authorization) ?? '';
    await store.deleteToken(hashToken(token));
    return { ok: true };
  });

  app.get('/api/v1/me', allow('user', { duringPasswordChange: true }), async (req) => ({ user: userJson(me(req)) }));

  app.post('/api/v1/me/password', allow('user', { duringPasswordChange: true }), async (req) => {
    const body = parse(z.strictObject({ current_password: z.string().max(1024), new_password: z.string().max(1024) }), req.body);
    const user = me(req);
    // Throttled like a login: a stolen token must not become a way to guess the password.
    if (!(await checkLogin(req, user.name, user, body.current_password))) throw new JumpError('LOGIN_FAILED', { field: 'current_password' });
    checkPassword(body.new_password);
    if (body.new_password === body.current_password) {
      throw new JumpError('VALIDATION_FAILED', { field: 'new_password', detail: 'new_password: must differ from the current password' });
    }
    // The new password ends every token of the old one, this one too (a stolen token must not
    // survive the change it prompted), and every live Jump session of the user; the caller gets
    // a fresh token so it stays logged in (round 2 of issue #12, item 18; docs/api.md).
    await store.updateUser(user.id, { passwordHash: await hashQueue.run(() => hashPassword(body.new_password)) });
    const { token, hash } = newToken();
    const now = Date.now();
    await store.createToken({ userId: user.id, tokenHash: hash, now, expiresAt: now + TOKEN_TTL_MS });
    ctx.sessions.endUserSessions(user.id, 'password changed');
    await store.audit({ at: now, userId: user.id, action: 'user.passwd', target: `user:${user.name}` });
    if (user.mustChangePassword) removeBootstrapPasswordFile(ctx.dataDir);
    return { ok: true, token, expires_at: new Date(now + TOKEN_TTL_MS).toISOString(), idle_timeout_s: Math.round(ctx.tokenIdleMs / 1000) };
  });
}
