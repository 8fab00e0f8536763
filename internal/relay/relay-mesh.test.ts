import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { getHeader } from '../msrp/frame.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { testPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

describe('two relays over mutual TLS (RFC 4976 §6.4, §9.2)', () => {
  it('carries a SEND from A via relay 1 and relay 2 to B, and the REPORT back', async () => {
    const pki = await testPki();
    const r1 = await startTestRelay();
    const r2 = await startTestRelay({}, pki.peer);
    relays.push(r1, r2);
    const a = await TestClient.connect({ port: r1.port, ca: r1.ca });
    const b = await TestClient.connect({ port: r2.port, ca: r2.ca });
    const s1 = usePathOf(await a.auth(r1.relay.uri, 'alice', 'alice-pw'));
    const s2 = usePathOf(await b.auth(r2.relay.uri, 'bob', 'bob-pw'));

    const sent = a.sendMessage([s1, s2, b.uri], 'across two relays', [{ name: 'Success-Report', value: 'yes' }]);
    assert.equal((await a.response(sent.transactionId)).status, 200);
    const got = await b.request('SEND');
    assert.deepEqual(got.toPath, [b.uri]);
    assert.deepEqual(got.fromPath, [s2, s1, a.uri]);
    assert.equal(Buffer.concat(got.body).toString(), 'across two relays');
    b.write(buildResponse(got, 200));

    // Relay 1 presented its certificate to relay 2, which verified it against ca.crt.
    const fromR1 = [...r2.relay.connections].find((c) => c.direction === 'inbound' && c.remotePort !== b.socket.localPort);
    assert.ok(fromR1);
    assert.equal((fromR1.socket as TLSSocket).authorized, true);
    assert.equal(String((fromR1.socket as TLSSocket).getPeerCertificate().subject.CN), 'server');

    b.send('REPORT', [...got.fromPath], [
      { name: 'Message-ID', value: getHeader(got, 'Message-ID')! },
      { name: 'Byte-Range', value: '1-17/17' },
      { name: 'Status', value: '000 200 OK' },
    ]);
    const report = await a.request('REPORT');
    assert.deepEqual(report.toPath, [a.uri]);
    assert.deepEqual(report.fromPath, [s1, s2, b.uri]);

    // A second SEND reuses relay 1's connection to relay 2.
    const outbound = () => [...r1.relay.connections].filter((c) => c.direction === 'outbound').length;
    const before = outbound();
    const again = a.sendMessage([s1, s2, b.uri], 'again');
    assert.equal((await a.response(again.transactionId)).status, 200);
    await b.request('SEND');
    assert.equal(outbound(), before);
    a.close();
    b.close();
  });

  it('refuses a peer relay whose certificate is not signed by ca.crt (481 to the sender)', async () => {
    const pki = await testPki();
    const r1 = await startTestRelay();
    const r2 = await startTestRelay({}, pki.untrusted);
    relays.push(r1, r2);
    const a = await TestClient.connect({ port: r1.port, ca: r1.ca });
    const s1 = usePathOf(await a.auth(r1.relay.uri, 'alice', 'alice-pw'));
    const sent = a.sendMessage([s1, `msrps://127.0.0.1:${r2.port}/whatever;tcp`, 'msrp://b.invalid:9/x;tcp'], 'x');
    assert.equal((await a.response(sent.transactionId)).status, 481);
    a.close();
  });
});
