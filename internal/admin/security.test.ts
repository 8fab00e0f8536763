// Security table of the admin API (docs/security.md "Admin API"): served over TLS inside the
// pod network, on a real HTTPS listener and a real PostgreSQL store. Each row an attack and
// its refusal. Needs DATABASE_URL (an account that may CREATE DATABASE).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { freshDatabase } from '../store/testdatabase.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { buildAdminApp, setAdminCertificate, type AdminApp } from './app.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!adminUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}
const logger = createLogger({ name: 'admin-security', level: 'silent', env: {} });
const TOKEN = 'admin-security-bootstrap-token';

describe('admin API security table (docs/security.md)', { skip, timeout: 60_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let store: Store;
  let app: AdminApp;
  let pki: TestPki;
  let port: number;
  let agent: Agent;

  before(async () => {
    pki = await testPki();
    database = await freshDatabase(adminUrl!);
    store = await openStore({ url: database.url, logger, statementTimeoutMs: 3000 });
    app = await buildAdminApp({
      store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: TOKEN, listenForChanges: false,
      https: { cert: pki.server.cert, key: pki.server.key },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
    agent = new Agent({ connect: { ca: pki.caPem, servername: 'localhost' } });
  });
  after(async () => {
    await agent?.close();
    await app?.close();
    await store?.close();
    await database?.drop();
  });

  const call = async (path: string, token: string | null = TOKEN, method: 'GET' | 'PUT' = 'GET') => {
    const res = await request(`https://127.0.0.1:${port}${path}`, {
      method, dispatcher: agent, headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('serves the API over TLS with its certificate (verified against the CA)', async () => {
    assert.equal((await call('/v1/realms')).status, 200);
  });

  it('eavesdropping: a plain HTTP request to the port gets no HTTP answer, the connection is closed', async () => {
    const s = netConnect({ host: '127.0.0.1', port });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => undefined);
    s.write(`GET /v1/realms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.doesNotMatch(got, /HTTP\/1\.1 200/);
    assert.doesNotMatch(got, /realms|items/);
  });

  it('downgrade: a TLS 1.1 client is refused at the handshake', async () => {
    await assert.rejects(new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve(t));
      t.once('error', reject);
    }));
  });

  it('no token, a wrong token, a malformed Authorization header: 401', async () => {
    assert.equal((await call('/v1/realms', null)).status, 401);
    assert.equal((await call('/v1/realms', 'not-the-token')).status, 401);
    const res = await request(`https://127.0.0.1:${port}/v1/realms`, { dispatcher: agent, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    assert.equal(res.statusCode, 401);
    await res.body.dump();
  });

  for (const path of ['/v1/rooms/%ZZ', '/v1/rooms/%00', '/v1/rooms/..%2f..%2fetc%2fpasswd', `/v1/realms/${'a'.repeat(5000)}`, '/v1/rooms/%E0%A4%A', '//v1//realms']) {
    it(`malformed path ${path.slice(0, 40)}: a 4xx answer, never a 5xx, and the API still answers`, async () => {
      const r = await call(path);
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.body.slice(0, 200)}`);
      assert.equal((await call('/v1/realms')).status, 200);
    });
  }

  it('a renewed certificate applies to new connections without a restart', async () => {
    setAdminCertificate(app, { cert: pki.serverRotated.cert, key: pki.serverRotated.key });
    const presented = await new Promise<string>((resolve, reject) => {
      const t = tlsConnect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost' }, () => {
        resolve(t.getPeerX509Certificate()!.fingerprint256);
        t.destroy();
      });
      t.once('error', reject);
    });
    assert.equal(presented, new X509Certificate(pki.serverRotated.cert).fingerprint256);
  });
});
