// Interop with a real third-party MSRP relay: Kamailio 5.6's msrp module with
// e2e/kamailio/msrp-relay.cfg. Speaks MSRP over TCP and TLS with the project's parser and
// serializer: AUTH with Digest (RFC 4976 §5), SEND and REPORT between two authenticated
// clients through the relay (RFC 4976 §6-7). Only well-formed frames are sent: a malformed
// start line crashes Kamailio 5.6 (see README.md).
import { eventually } from '../../internal/testwait.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { getHeader } from '../../internal/msrp/frame.ts';
import { testPki } from '../../internal/transport/testcerts.ts';
import type { TestPki } from '../../internal/transport/testcerts.ts';
import { kamailioAvailable, startKamailio } from './kamailio.ts';
import type { KamailioRelay } from './kamailio.ts';
import { MsrpTestClient, bodyOf, ident, request } from './msrp-client.ts';

const USER = 'alice';
const PASSWORD = 'wonderland-7';
const REALM = 'kamailio.test';

const available = kamailioAvailable();
const skip = !available && process.env.CI !== 'true' ? 'kamailio not installed: apt-get install kamailio kamailio-tls-modules' : false;

describe('kamailio msrp relay (third-party peer)', { skip, timeout: 60_000 }, () => {
  let relay: KamailioRelay;
  let pki: TestPki;
  const clients: MsrpTestClient[] = [];

  before(async () => {
    assert.ok(available, 'CI=true and kamailio (with msrp.so, tls.so) is not installed: .ci/peers.d/30-kamailio.sh should have installed it');
    pki = await testPki();
    relay = await startKamailio({
      certFile: `${pki.server.dir}/tls.crt`, keyFile: `${pki.server.dir}/tls.key`, caFile: `${pki.server.dir}/ca.crt`,
      user: USER, password: PASSWORD, realm: REALM, debug: process.env.KAMAILIO_DEBUG === '1' ? 3 : 2,
    });
  });

  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    if (relay) {
      const alive = relay.alive();
      await relay.stop();
      // The relay must have survived everything the tests sent.
      assert.ok(alive, `kamailio died during the tests; log kept in ${relay.logPath}`);
    }
  });

  async function client(transport: 'tcp' | 'tls'): Promise<MsrpTestClient> {
    const c = await MsrpTestClient.connect(transport === 'tls'
      ? { host: relay.host, port: relay.tlsPort, tls: { ca: pki.caPem } }
      : { host: relay.host, port: relay.tcpPort });
    clients.push(c);
    return c;
  }

  function relayUri(transport: 'tcp' | 'tls'): string {
    return transport === 'tls' ? relay.uriTls : relay.uriTcp;
  }

  for (const transport of ['tcp', 'tls'] as const) {
    describe(`over ${transport.toUpperCase()}`, () => {
      it('challenges AUTH with Digest qop=auth, then answers 200 with Use-Path and Expires', async () => {
        const a = await client(transport);
        const res = await a.auth(relayUri(transport), USER, PASSWORD, { expires: 600 });
        const challenge = getHeader(res.challenge, 'WWW-Authenticate') ?? '';
        assert.match(challenge, /^Digest /);
        assert.match(challenge, /realm="kamailio\.test"/);
        assert.match(challenge, /qop="?auth"?/);
        assert.equal(res.usePath.length, 1);
        const scheme = transport === 'tls' ? 'msrps' : 'msrp';
        const port = transport === 'tls' ? relay.tlsPort : relay.tcpPort;
        assert.match(res.usePath[0]!, new RegExp(`^${scheme}://127\\.0\\.0\\.1:${port}/[A-Za-z0-9]+;tcp$`));
        assert.equal(res.expires, 600);
        // The responses are addressed back to the client (RFC 4975 §7.2).
        assert.deepEqual(res.response.toPath, [a.uri]);
        assert.equal(a.parseErrors.length, 0, a.parseErrors.join('\n'));
      });

      it('refuses a wrong password with a new 401 and a too short Expires with 423', async () => {
        const a = await client(transport);
        await assert.rejects(a.auth(relayUri(transport), USER, 'not-the-password'), (e: Error & { response?: { status: number } }) => e.response?.status === 401);
        await assert.rejects(a.auth(relayUri(transport), 'mallory', PASSWORD), (e: Error & { response?: { status: number } }) => e.response?.status === 401);
        await assert.rejects(a.auth(relayUri(transport), USER, PASSWORD, { expires: 1 }), (e: Error & { response?: { status: number } }) => {
          const r = e.response as Parameters<typeof getHeader>[0] & { status: number } | undefined;
          return r?.status === 423 && getHeader(r, 'Min-Expires')?.trim() === '30';
        });
      });

      it('relays SEND from A to B (both AUTHed on it) with the body intact, and REPORT back', async () => {
        const a = await client(transport);
        const b = await client(transport);
        const authA = await a.auth(relayUri(transport), USER, PASSWORD);
        const authB = await b.auth(relayUri(transport), USER, PASSWORD);
        // RFC 4976 §6.1: B advertises (SDP a=path) its Use-Path followed by its own URI; A
        // sends along its own Use-Path followed by that path.
        const pathB = [...authB.usePath, b.uri];
        const toPath = [...authA.usePath, ...pathB];
        // Every byte value, well under Kamailio's ~14 KB frame limit.
        const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(7000)]);
        const messageId = ident(8);
        const send = request('SEND', toPath, [a.uri], [
          { name: 'Message-ID', value: messageId },
          { name: 'Success-Report', value: 'yes' },
          { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
          { name: 'Content-Type', value: 'application/octet-stream' },
        ], body);
        const [res, got] = await Promise.all([a.transact(send), b.nextRequest()]);
        assert.equal(res.status, 200, `relay answered ${res.status} ${res.comment}`);
        assert.equal(got.method, 'SEND');
        assert.equal(got.transactionId.length > 0, true);
        assert.ok(bodyOf(got).equals(body), 'body changed on the way');
        // The relay consumed both of its hops and recorded them in From-Path (RFC 4976 §7.3.1).
        assert.deepEqual(got.toPath, [b.uri]);
        assert.deepEqual(got.fromPath, [authB.usePath[0], authA.usePath[0], a.uri]);
        assert.equal(getHeader(got, 'Message-ID'), messageId);

        // B's success REPORT goes back along the reverse path (RFC 4975 §7.1.2).
        const report = request('REPORT', [...got.fromPath], [b.uri], [
          { name: 'Message-ID', value: messageId },
          { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
          { name: 'Status', value: '000 200 OK' },
        ]);
        b.write(report);
        const gotReport = await a.nextRequest();
        assert.equal(gotReport.method, 'REPORT');
        assert.deepEqual(gotReport.toPath, [a.uri]);
        assert.equal(getHeader(gotReport, 'Message-ID'), messageId);
        assert.equal(getHeader(gotReport, 'Status')?.trim(), '000 200 OK');
        for (const c of [a, b]) assert.equal(c.parseErrors.length, 0, c.parseErrors.join('\n'));
      });

      it('delivers a SEND addressed straight to B\'s relay session (no hop of A\'s own)', async () => {
        const a = await client(transport);
        const b = await client(transport);
        await a.auth(relayUri(transport), USER, PASSWORD);
        const authB = await b.auth(relayUri(transport), USER, PASSWORD);
        const body = Buffer.from('hello through one relay hop\r\n-------not-an-end-line$\r\n');
        const send = request('SEND', [...authB.usePath, b.uri], [a.uri], [
          { name: 'Message-ID', value: ident(8) },
          { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
          { name: 'Content-Type', value: 'text/plain' },
        ], body);
        const [res, got] = await Promise.all([a.transact(send), b.nextRequest()]);
        assert.equal(res.status, 200);
        assert.ok(bodyOf(got).equals(body));
        assert.deepEqual(got.fromPath, [authB.usePath[0], a.uri]);
      });

      it('answers 481 to a SEND for a session it does not know', async () => {
        const a = await client(transport);
        const authA = await a.auth(relayUri(transport), USER, PASSWORD);
        const scheme = transport === 'tls' ? 'msrps' : 'msrp';
        const port = transport === 'tls' ? relay.tlsPort : relay.tcpPort;
        const body = Buffer.from('nobody home');
        const send = request('SEND', [`${scheme}://127.0.0.1:${port}/nosuchsession;tcp`, `${scheme}://127.0.0.1:1/x;tcp`], [a.uri], [
          { name: 'Message-ID', value: ident(8) },
          { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
          { name: 'Content-Type', value: 'text/plain' },
        ], body);
        const res = await a.transact(send);
        assert.equal(res.status, 481);
        assert.ok(authA.usePath.length === 1);
      });
    });
  }

  it('relays between a TLS client and a TCP client', async () => {
    const a = await client('tls');
    const b = await client('tcp');
    const authA = await a.auth(relay.uriTls, USER, PASSWORD);
    const authB = await b.auth(relay.uriTcp, USER, PASSWORD);
    const body = randomBytes(4096);
    const send = request('SEND', [...authA.usePath, ...authB.usePath, b.uri], [a.uri], [
      { name: 'Message-ID', value: ident(8) },
      { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
      { name: 'Content-Type', value: 'application/octet-stream' },
    ], body);
    const [res, got] = await Promise.all([a.transact(send), b.nextRequest()]);
    assert.equal(res.status, 200);
    assert.ok(bodyOf(got).equals(body));
    assert.deepEqual(got.fromPath, [authB.usePath[0], authA.usePath[0], a.uri]);
  });

  it('answers 481 once the session\'s connection is gone', async () => {
    const a = await client('tcp');
    const b = await client('tcp');
    await a.auth(relay.uriTcp, USER, PASSWORD);
    const authB = await b.auth(relay.uriTcp, USER, PASSWORD);
    await b.close();
    // Kamailio notices the close when its reader gets the FIN: a bounded poll (one SEND per
    // attempt) until it answers 481, instead of a 200 ms guess. What it answered before then is
    // kept for the failure message.
    const body = Buffer.from('too late');
    const send = () => a.transact(request('SEND', [...authB.usePath, b.uri], [a.uri], [
      { name: 'Message-ID', value: ident(8) },
      { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
      { name: 'Content-Type', value: 'text/plain' },
    ], body), 1000).then((r) => r.status, (e: Error) => e.message);
    const answers: (number | string)[] = [];
    await eventually(async () => {
      answers.push(await send());
      return answers.at(-1) === 481;
    }, 'Kamailio to answer 481', 10_000).catch(() => undefined);
    assert.equal(answers.at(-1), 481, `answers: ${answers.join(', ')}`);
  });

  for (const transport of ['tcp', 'tls'] as const) it(`relays a burst of SENDs in order on one session pair over ${transport.toUpperCase()}`, async () => {
    const a = await client(transport);
    const b = await client(transport);
    const authA = await a.auth(relayUri(transport), USER, PASSWORD);
    const authB = await b.auth(relayUri(transport), USER, PASSWORD);
    const toPath = [...authA.usePath, ...authB.usePath, b.uri];
    const n = 200;
    const sends = Array.from({ length: n }, (_, i) => {
      const body = Buffer.from(`message ${i} ${'x'.repeat(i % 97)}`);
      return request('SEND', toPath, [a.uri], [
        { name: 'Message-ID', value: `m${i}` },
        { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
        { name: 'Content-Type', value: 'text/plain' },
      ], body);
    });
    const responses = Promise.all(sends.map((s) => a.transact(s, 15_000)));
    const got: string[] = [];
    for (let i = 0; i < n; i++) got.push(bodyOf(await b.nextRequest(15_000)).toString());
    for (const r of await responses) assert.equal(r.status, 200);
    assert.deepEqual(got, sends.map((s) => bodyOf(s).toString()));
  });
});
