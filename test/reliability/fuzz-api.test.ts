/**
 * API fuzzing, bounded (docs/reliability.md section 1; the long run is test/long/fuzz.test.ts):
 * every route with generated parameters, queries and bodies, as an admin and unauthenticated, and
 * raw malformed HTTP, against a real site that must answer each with its code, stay up, keep its
 * memory and keep serving a normal agent and an API client.
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiToken, TEST_ADMIN_PASSWORD } from '../helpers/site.js';
import { testRuns, testSeed } from '../helpers/seed.js';
import { ROUTES, apiPools, fuzzApi, routesInSource } from './fuzz-api-lib.js';
import { startFuzzHarness, type FuzzHarness } from './fuzz-harness.js';

let h: FuzzHarness;
let token: string;
beforeAll(async () => {
  h = await startFuzzHarness();
  token = await apiToken(h.site.url, h.site.certPem, 'admin', TEST_ADMIN_PASSWORD);
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** One call with a raw body (JSON text) through a fresh connection. */
function rawCall(harness: FuzzHarness, token: string | null, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const req = httpsRequest({ host: '127.0.0.1', port: harness.site.port, method, path, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('API fuzz (bounded)', () => {
  it('covers every route the site registers', () => {
    expect(ROUTES.map((r) => `${r.method} ${r.path}`).sort()).toEqual(routesInSource());
  });

  // Regressions the fuzz found (docs/reliability.md section 7): each answered otherwise before the fix.
  it('regression: a URL that is not valid percent-encoding is 400 VALIDATION_FAILED naming the path (was Fastify\'s own FST_ERR_BAD_URL body)', async () => {
    for (const path of ['/api/v1/users/nobody%/tokens', '/api/v1/jump-clients/%E0%A4', '/api/v1/sessions/%zz']) {
      for (const auth of [token, null]) {
        const a = await rawCall(h, auth, 'GET', path);
        expect(a.status, path).toBe(400);
        expect(JSON.parse(a.body).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'path' });
      }
    }
  });
  it('regression: a JSON null body is refused like any non-object body (was taken as {} and created an installer)', async () => {
    const a = await rawCall(h, token, 'POST', '/api/v1/installers', 'null');
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body' });
  });
  it('regression: a bad path parameter is named (was field "body" for PATCH /api/v1/jump-clients/abc)', async () => {
    await h.site.api.request('POST', '/api/v1/jump-groups', { name: 'fuzz-regress' });
    for (const [method, path, field, body] of [
      ['PATCH', '/api/v1/jump-clients/abc', 'id', '{"tag":"x"}'],
      ['DELETE', '/api/v1/jump-clients/0', 'id', undefined],
      ['GET', `/api/v1/jump-clients/${'x'.repeat(129)}`, 'ref', undefined],
      ['POST', `/api/v1/jump-clients/${'x'.repeat(129)}/sessions`, 'ref', '{"public_key":"x"}'],
      ['POST', '/api/v1/jump-groups/fuzz-regress/members', 'user', '{"user":"-bad"}'],
    ] as const) {
      const a = await rawCall(h, token, method, path, body);
      expect(a.status, `${method} ${path}`).toBe(400);
      expect(JSON.parse(a.body).error, `${method} ${path}`).toMatchObject({ code: 'VALIDATION_FAILED', field });
    }
  });

  it('observation fixed: Fastify\'s own refusals (415, 413, bad or empty JSON) name the header or the body and the fix', async () => {
    for (const [body, contentType, status, field, fix] of [
      ['{"tag":"x"}', 'text/xml', 415, 'content-type', /Fix: send the body as JSON with Content-Type: application\/json/],
      [`{"tag":"${'x'.repeat(300 * 1024)}"}`, 'application/json', 413, 'body', /larger than the site takes \(256 KiB\)\. Fix: /],
      ['{"tag":', 'application/json', 400, 'body', /not valid JSON .*Fix: send one JSON object/],
      ['', 'application/json', 400, 'body', /empty, but Content-Type says JSON/],
    ] as const) {
      const a = await rawCall(h, token, 'POST', '/api/v1/installers', body, contentType);
      expect(a.status, contentType).toBe(status);
      const err = JSON.parse(a.body).error as { code: string; field?: string; message: string };
      expect(err, a.body.slice(0, 300)).toMatchObject({ code: 'VALIDATION_FAILED', field });
      expect(err.message).toMatch(fix);
    }
  });

  it('answers every generated call with its code, and stays up, bounded and serving', async () => {
    const seed = testSeed('fuzz-api');
    const pools = await apiPools(h);
    const t0 = Date.now();
    await fuzzApi(h, token, pools, seed, { calls: testRuns(500, 500), raw: testRuns(40, 40) });
    const summary = await h.finish();
    console.log(`[fuzz-api] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}`);
    expect(h.counts['api as admin']).toBeGreaterThan(0);
  }, 120_000);
});
