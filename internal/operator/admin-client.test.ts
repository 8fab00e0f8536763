// The operator's admin client over HTTPS (docs/security.md "Admin API"): a real TLS server with
// a certificate from the test CA; the client trusts the CA bundle it is given for that relay
// (in a cluster: ca.crt of the relay's <relay>-admin-tls Secret) and nothing else.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { AdminClient, AdminUnreachableError } from './admin-client.ts';

describe('admin client over HTTPS', () => {
  let pki: TestPki;
  let server: Server;
  let port: number;
  const seen: string[] = [];
  const client = new AdminClient({ timeoutMs: 2000 });
  before(async () => {
    pki = await testPki();
    server = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [{}, {}] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await client.close();
    server.close();
  });

  it('verifies the admin API certificate against the relay\'s CA bundle and sends the token', async () => {
    assert.equal(await client.participantCount({ url: `https://localhost:${port}`, ca: pki.caPem }, 'tok', 'lobby'), 2);
    assert.deepEqual(seen.splice(0), ['GET /v1/rooms/lobby/participants Bearer tok']);
  });

  it('refuses a certificate that does not chain to that bundle (another relay\'s CA, or none): unreachable, no token sent', async () => {
    const other = (await testPki()).mesh.cert; // a certificate of another CA, as a bundle
    await assert.rejects(client.participantCount({ url: `https://localhost:${port}`, ca: other }, 'tok', 'lobby'), AdminUnreachableError);
    await assert.rejects(client.participantCount({ url: `https://localhost:${port}` }, 'tok', 'lobby'), AdminUnreachableError);
    assert.deepEqual(seen, [], 'the token never left');
  });

  it('refuses a certificate of the right CA for another name than the URL\'s host', async () => {
    const elsewhere = createServer({ cert: pki.wrongHost.cert, key: pki.wrongHost.key }, (_req, res) => res.end('{"count":0}'));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', () => resolve()));
    try {
      const at = (elsewhere.address() as AddressInfo).port;
      await assert.rejects(
        client.participantCount({ url: `https://localhost:${at}`, ca: pki.caPem }, 'tok', 'lobby'),
        (e: Error) => e instanceof AdminUnreachableError && /altname|Hostname|certificate/i.test(e.message),
      );
      // The name the certificate must carry can be pinned apart from the URL's host (the operator
      // pins the admin Service's name): an address in the URL, the name checked in the certificate.
      await client.participantCount({ url: `https://127.0.0.1:${at}`, ca: pki.caPem, servername: 'elsewhere.test' }, 'tok', 'lobby');
      await assert.rejects(client.participantCount({ url: `https://127.0.0.1:${at}`, ca: pki.caPem, servername: 'relay-admin.chat.svc' }, 'tok', 'lobby'), AdminUnreachableError);
    } finally {
      elsewhere.close();
    }
  });
});
