// Interop through two independent relays (RFC 4976 §6-7): client A authenticates to OUR
// relay, client B to Kamailio 5.6's msrp module (e2e/kamailio), and a 200 KB message
// travels in 8 KB chunks A→B and B→A, all over TLS:
//
//   A ──TLS── our relay ──TLS── Kamailio ──TLS── B
//
// Paths (RFC 4976 §6.1: each side advertises its Use-Path followed by its own URI, the
// sender prepends its own Use-Path):
//   A→B  A sends     To-Path: ours/sA kam/sB B     From-Path: A
//        ours sends  To-Path: kam/sB B             From-Path: ours/sA A        (new tid)
//        B receives  To-Path: B                    From-Path: kam/sB ours/sA A (Kamailio keeps the tid)
//   B→A  B sends     To-Path: kam/sB ours/sA A     From-Path: B
//        kam sends   To-Path: ours/sA A            From-Path: kam/sB B
//        A receives  To-Path: A                    From-Path: ours/sA kam/sB B
//
// TLS between the relays: our relay dials Kamailio (A→B) as a TLS client that verifies
// Kamailio's certificate against ca.crt and the URI host 127.0.0.1 (RFC 4976 §9.2) and
// presents its own certificate (Kamailio asks for none: require_certificate = no).
// Kamailio dials our relay (B→A) with tls.cfg's [client:default] section, which does NOT
// verify our certificate (verify_certificate = no, see e2e/kamailio/kamailio.ts) but presents
// its own: our relay (peerCertificates 'require', the production default) delivers to A only
// from a peer whose client certificate chains to ca.crt and names the host of the first
// From-Path URI, here kam/sB = 127.0.0.1 (RFC 4976 §9.2, internal/relay/peer-auth.ts).
//
// Kamailio limits respected here (e2e/kamailio/README.md): chunks well under 10 KB,
// To-Path/From-Path first (our serializer), only well-formed frames.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { getHeader, type MsrpHeader, type MsrpRequest } from '../internal/msrp/frame.ts';
import { parseByteRange } from '../internal/msrp/headers.ts';
import { buildResponse, newMessageId } from '../internal/msrp/transaction.ts';
import { TestClient, usePathOf } from '../internal/relay/testclient.ts';
import { startTestRelay, type TestRelay } from '../internal/relay/testrelay.ts';
import { testPki, type TestPki } from '../internal/transport/testcerts.ts';
import { kamailioAvailable, startKamailio, type KamailioRelay } from './kamailio/kamailio.ts';
import { MsrpTestClient, bodyOf, request } from './kamailio/msrp-client.ts';

const KAM_USER = 'bob';
const KAM_PASSWORD = 'kamailio-pw-9';
const KAM_REALM = 'kamailio.test';
const MESSAGE_BYTES = 200 * 1024;
const CHUNK_BYTES = 8 * 1024;
/** Chunks in flight per direction (responses are hop-by-hop, so this is what A/B wait for). */
const WINDOW = 4;

const available = kamailioAvailable();
const skip = !available && process.env.CI !== 'true'
  ? 'kamailio not installed (apt-get install kamailio kamailio-tls-modules); under CI=true this fails instead'
  : false;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Chunk {
  headers: MsrpHeader[];
  body: Buffer;
  continuation: '$' | '+';
}

/** RFC 4975 §5.1 chunking: one Message-ID, Byte-Range per chunk, '+' on all but the last. */
function chunksOf(message: Buffer, messageId: string): Chunk[] {
  const out: Chunk[] = [];
  for (let off = 0; off < message.length; off += CHUNK_BYTES) {
    const body = message.subarray(off, Math.min(message.length, off + CHUNK_BYTES));
    const last = off + body.length === message.length;
    out.push({
      body,
      continuation: last ? '$' : '+',
      headers: [
        { name: 'Message-ID', value: messageId },
        ...(last ? [{ name: 'Success-Report', value: 'yes' }] : []),
        { name: 'Byte-Range', value: `${off + 1}-${off + body.length}/${message.length}` },
        { name: 'Content-Type', value: 'application/octet-stream' },
      ],
    });
  }
  return out;
}

/** Runs `send(i)` for every chunk with at most WINDOW outstanding; returns the statuses in order. */
async function windowed(n: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = new Array<number>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      statuses[i] = await send(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, worker));
  return statuses;
}

/** Puts received chunks back together by Byte-Range; returns the message once complete. */
async function reassemble(nextSend: () => Promise<MsrpRequest>, onChunk: (r: MsrpRequest) => void): Promise<{ message: Buffer; chunks: MsrpRequest[] }> {
  const chunks: MsrpRequest[] = [];
  let message: Buffer | undefined;
  let received = 0;
  // Bounded: a 200 KB message in 8 KB chunks is 25 frames; stop well after that.
  for (let guard = 0; guard < 1000 && (message === undefined || received < message.length); guard++) {
    const r = await nextSend();
    onChunk(r);
    chunks.push(r);
    const br = parseByteRange(getHeader(r, 'Byte-Range') ?? '');
    assert.ok(br.ok, `bad Byte-Range on a received chunk: ${getHeader(r, 'Byte-Range')}`);
    const { start, total } = br.value;
    assert.equal(typeof total, 'number', 'the sender knows the total size');
    message ??= Buffer.alloc(total as number);
    const body = bodyOf(r);
    body.copy(message, start - 1);
    received += body.length;
  }
  assert.ok(message !== undefined && received === message.length, `received ${received} bytes`);
  return { message, chunks };
}

describe('interop: our relay ↔ Kamailio msrp relay, A on ours, B on Kamailio, TLS everywhere', { skip, timeout: 90_000 }, () => {
  let pki: TestPki;
  let kam: KamailioRelay;
  let ours: TestRelay;
  let a: TestClient;
  let b: MsrpTestClient;
  let sA: string; // our relay's session URI for A (Use-Path)
  let sB: string; // Kamailio's session URI for B (Use-Path)

  before(async () => {
    assert.ok(available, 'CI=true and kamailio (with msrp.so, tls.so) is not installed: .ci/peers.d/30-kamailio.sh should have installed it');
    pki = await testPki();
    // Kamailio gets the "other relay" certificate of the test PKI (same CA, SANs 127.0.0.1/localhost).
    kam = await startKamailio({
      certFile: `${pki.peer.dir}/tls.crt`, keyFile: `${pki.peer.dir}/tls.key`, caFile: `${pki.peer.dir}/ca.crt`,
      user: KAM_USER, password: KAM_PASSWORD, realm: KAM_REALM, debug: process.env.KAMAILIO_DEBUG === '1' ? 3 : 2,
    });
    ours = await startTestRelay({
      // Kamailio is the only peer we may dial: its TLS port on loopback (hence allowPrivate).
      nextHops: { allow: [{ host: '127.0.0.1', port: kam.tlsPort }], allowPrivate: true, connectTimeoutMs: 3000 },
    });
    a = await TestClient.connect({ port: ours.port, ca: ours.ca });
    const authA = await a.auth(ours.relay.uri, 'alice', 'alice-pw');
    assert.equal(authA.status, 200, `AUTH at our relay: ${authA.status} ${authA.comment}`);
    sA = usePathOf(authA).trim();
    b = await MsrpTestClient.connect({ host: kam.host, port: kam.tlsPort, tls: { ca: pki.caPem } });
    const authB = await b.auth(kam.uriTls, KAM_USER, KAM_PASSWORD);
    assert.equal(authB.usePath.length, 1);
    sB = authB.usePath[0]!;
    assert.match(sA, /^msrps:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9]+;tcp$/);
    assert.match(sB, new RegExp(`^msrps://127\\.0\\.0\\.1:${kam.tlsPort}/k[0-9a-f]+;tcp$`));
  });

  after(async () => {
    a?.close();
    await b?.close();
    await ours?.relay.stop();
    if (kam) {
      const alive = kam.alive();
      await kam.stop();
      assert.ok(alive, `kamailio died during the test; log kept in ${kam.logPath}`);
    }
  });

  it('A→B: 200 KB in 8 KB chunks, SHA-256 intact at B, From-Path names both relays, success REPORT back to A', async () => {
    const message = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(MESSAGE_BYTES - 256)]);
    const messageId = newMessageId();
    const chunks = chunksOf(message, messageId);
    assert.equal(chunks.length, 25);
    const toPath = [sA, sB, b.uri];
    const receiving = reassemble(() => b.nextRequest(15_000), (r) => {
      assert.equal(r.method, 'SEND');
      assert.deepEqual(r.toPath, [b.uri]);
      assert.deepEqual(r.fromPath, [sB, sA, a.uri], 'both relays recorded themselves in From-Path (RFC 4976 §6.4)');
      assert.equal(getHeader(r, 'Message-ID'), messageId);
    });
    const statuses = await windowed(chunks.length, async (i) => {
      const c = chunks[i]!;
      const sent = a.send('SEND', toPath, c.headers, c.body, [a.uri], c.continuation);
      const res = await a.response(sent.transactionId, 15_000);
      // The hop-by-hop response comes from our relay (RFC 4976 §7.3), addressed to A.
      assert.deepEqual(res.toPath, [a.uri]);
      assert.deepEqual(res.fromPath, [sA]);
      return res.status;
    });
    assert.deepEqual(statuses, chunks.map(() => 200));
    const { message: got, chunks: gotChunks } = await receiving;
    assert.equal(sha256(got), sha256(message), 'SHA-256 of the reassembled message at B');
    assert.equal(gotChunks.at(-1)!.continuation, '$');
    // Our relay reached Kamailio over TLS (msrps: next hop, certificate verified).
    assert.ok([...ours.relay.connections].some((c) => c.direction === 'outbound' && c.secure && c.remotePort === kam.tlsPort),
      'our relay has a TLS connection to Kamailio');

    // B's success REPORT (RFC 4975 §7.1.2) retraces the From-Path: Kamailio → ours → A.
    const last = gotChunks.find((r) => getHeader(r, 'Success-Report') === 'yes')!;
    b.write(request('REPORT', [...last.fromPath], [b.uri], [
      { name: 'Message-ID', value: messageId },
      { name: 'Byte-Range', value: `1-${message.length}/${message.length}` },
      { name: 'Status', value: '000 200 OK' },
    ]));
    const report = await a.request('REPORT', 10_000);
    assert.deepEqual(report.toPath, [a.uri]);
    assert.deepEqual(report.fromPath, [sA, sB, b.uri]);
    assert.equal(getHeader(report, 'Message-ID'), messageId);
    assert.equal(getHeader(report, 'Status')?.trim(), '000 200 OK');
    assert.deepEqual(b.parseErrors, []);
  });

  it('B→A: 200 KB in 8 KB chunks, SHA-256 intact at A, From-Path names both relays, success REPORT back to B', async () => {
    const message = randomBytes(MESSAGE_BYTES);
    const messageId = newMessageId();
    const chunks = chunksOf(message, messageId);
    const toPath = [sB, sA, a.uri];
    const receiving = reassemble(async () => {
      const r = await a.request('SEND', 15_000);
      // TestClient does not answer by itself: the hop-by-hop 200 to our relay.
      a.write(buildResponse(r, 200));
      return r;
    }, (r) => {
      assert.deepEqual(r.toPath, [a.uri]);
      assert.deepEqual(r.fromPath, [sA, sB, b.uri], 'both relays recorded themselves in From-Path (RFC 4976 §6.4)');
      assert.equal(getHeader(r, 'Message-ID'), messageId);
    });
    const statuses = await windowed(chunks.length, async (i) => {
      const c = chunks[i]!;
      const res = await b.transact({ ...request('SEND', toPath, [b.uri], c.headers, c.body), continuation: c.continuation }, 15_000);
      return res.status;
    });
    assert.deepEqual(statuses, chunks.map(() => 200), 'Kamailio answered every chunk 200 once relayed');
    const { message: got, chunks: gotChunks } = await receiving;
    assert.equal(sha256(got), sha256(message), 'SHA-256 of the reassembled message at A');
    // Kamailio dialled our TLS listener (an inbound TLS connection that is not A's) with a
    // client certificate our relay verified (mutual TLS, RFC 4976 §9.2).
    const fromKam = [...ours.relay.connections].find((c) => c.direction === 'inbound' && c.secure && c.remotePort !== a.socket.localPort);
    assert.ok(fromKam, 'Kamailio has a TLS connection to our relay');
    assert.equal((fromKam.socket as TLSSocket).authorized, true, 'Kamailio presented a certificate that chains to ca.crt');
    assert.equal(String((fromKam.socket as TLSSocket).getPeerCertificate().subject.CN), 'peer');
    assert.equal(gotChunks.at(-1)!.continuation, '$');

    const last = gotChunks.find((r) => getHeader(r, 'Success-Report') === 'yes')!;
    a.send('REPORT', [...last.fromPath], [
      { name: 'Message-ID', value: messageId },
      { name: 'Byte-Range', value: `1-${message.length}/${message.length}` },
      { name: 'Status', value: '000 200 OK' },
    ]);
    const report = await b.nextRequest(10_000);
    assert.equal(report.method, 'REPORT');
    assert.deepEqual(report.toPath, [b.uri]);
    assert.deepEqual(report.fromPath, [sB, sA, a.uri]);
    assert.equal(getHeader(report, 'Status')?.trim(), '000 200 OK');
    assert.deepEqual(b.parseErrors, []);
  });
});
