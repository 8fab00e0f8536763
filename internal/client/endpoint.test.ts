import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { chunkMessage } from '../msrp/chunker.ts';
import { MsrpParser } from '../msrp/parser.ts';
import type { MsrpFrame } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { toBuffers } from '../msrp/serializer.ts';
import { testPki } from '../transport/testcerts.ts';
import { connectEndpoint, listenEndpoint, type MsrpEndpoint } from './endpoint.ts';
import { fileHeaders } from './file-meta.ts';
import { eventually } from '../testwait.ts';

async function connected(uri: string, o: Parameters<typeof connectEndpoint>[1] = {}): Promise<MsrpEndpoint> {
  const r = await connectEndpoint(uri, o);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.endpoint;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('two endpoints talking directly over TCP', () => {
  let a: MsrpEndpoint;
  let b: MsrpEndpoint;
  before(async () => {
    a = await listenEndpoint({ host: '127.0.0.1' });
    b = await connected(a.localUri);
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('delivers a text message and the passive side answers on the same connection', async () => {
    const r = await b.send({ toPath: [a.localUri], message: 'hello, MSRP ✓', successReport: true });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.delivered, true);
    const m = await a.nextMessage(2000);
    assert.equal(m?.body?.toString('utf8'), 'hello, MSRP ✓');
    assert.equal(m?.contentType, 'text/plain;charset=UTF-8');
    assert.deepEqual(m?.fromPath, [b.localUri]);
    // RFC 4975 §5.4: the passive side sends over the connection the active side opened.
    const back = await a.send({ toPath: m.fromPath, message: 'hi back' });
    assert.ok(back.ok, back.ok ? '' : back.message);
    assert.equal((await b.nextMessage(2000))?.body?.toString(), 'hi back');
  });

  it('reassembles a multi-chunk message in memory with a window of outstanding chunks', async () => {
    const body = randomBytes(300_000);
    const seen: number[] = [];
    const r = await b.send({ toPath: [a.localUri], message: body, contentType: 'text/x-test', chunkSize: 7000, window: 4, onProgress: (p) => seen.push(p.acknowledged) });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.bytes, body.length);
    assert.equal(seen.at(-1), body.length);
    const m = await a.nextMessage(2000);
    assert.ok(m?.body?.equals(body));
  });

  it('sends with Failure-Report "partial" (no 200s) and still gets the success REPORT', async () => {
    const body = randomBytes(100_000);
    const r = await b.send({ toPath: [a.localUri], message: body, chunkSize: 10_000, failureReport: 'partial', successReport: true });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.delivered, true);
    assert.ok((await a.nextMessage(2000))?.body?.equals(body));
  });

  it('fails a Failure-Report "partial" send on the error response to a chunk', async () => {
    const wrong = a.localUri.replace(a.sessionId, 'not-our-session-456');
    const r = await b.send({ toPath: [wrong], message: 'x'.repeat(5000), chunkSize: 1000, failureReport: 'partial', successReport: true, reportTimeoutMs: 2000 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.status, 481);
  });

  it('answers 481 to a SEND for a session that is not ours', async () => {
    const wrong = a.localUri.replace(a.sessionId, 'not-our-session-123');
    const r = await b.send({ toPath: [wrong], message: 'lost' });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.status, 481);
  });
});

describe('raw chunks to a listening endpoint (Byte-Range reassembly)', () => {
  let a: MsrpEndpoint;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msrp-client-'));
    a = await listenEndpoint({ saveFilesTo: dir });
  });
  after(() => a.close());

  async function rawSend(frames: MsrpFrame[]): Promise<MsrpFrame[]> {
    const url = new URL(a.localUri.replace(/^msrp/, 'http').replace(/;tcp$/, ''));
    const sock = connect(Number(url.port), '127.0.0.1');
    const responses: MsrpFrame[] = [];
    const parser = new MsrpParser({ onFrame: (f) => responses.push(f) });
    sock.on('data', (d: Buffer) => parser.push(d));
    for (const f of frames) for (const buf of toBuffers(f)) sock.write(buf);
    const want = frames.length;
    await eventually(() => responses.filter((r) => r.kind === 'response').length >= want, `${want} responses`).catch(() => undefined); // the callers assert on what came
    sock.destroy();
    return responses;
  }

  it('puts chunks that arrive in reverse order back together, in memory', async () => {
    const body = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(50));
    const chunks = chunkMessage(body, { toPath: [a.localUri], fromPath: ['msrp://127.0.0.1:1/peer1234;tcp'], messageId: 'msg-reverse-1', contentType: 'text/plain', chunkSize: 100 });
    const responses = await rawSend(chunks.reverse());
    assert.ok(responses.every((r) => r.kind === 'response' && r.status === 200));
    const m = await a.nextMessage(2000);
    assert.equal(m?.messageId, 'msg-reverse-1');
    assert.ok(m?.body?.equals(body));
  });

  it('writes an attachment whose chunks arrive out of order at their offsets and verifies its digest', async () => {
    const body = randomBytes(50_000);
    const headers = fileHeaders({ name: '../../etc/evil name.bin', size: body.length, sha256: sha256(body) });
    const chunks = chunkMessage(body, { toPath: [a.localUri], fromPath: ['msrp://127.0.0.1:1/peer1234;tcp'], messageId: 'msg-file-ooo', contentType: 'application/octet-stream', chunkSize: 8192, headers });
    const order = [3, 0, 6, 1, 5, 2, 4].map((i) => chunks[i]!);
    assert.equal(order.length, chunks.length);
    const responses = await rawSend(order);
    assert.ok(responses.every((r) => r.kind === 'response' && r.status === 200));
    const m = await a.nextMessage(2000);
    assert.equal(m?.file?.name, 'evil name.bin', 'path components are stripped');
    assert.equal(m?.file?.digest, 'verified');
    assert.equal(m?.file?.path, join(dir, 'evil name.bin'));
    assert.ok((await readFile(m.file.path)).equals(body));
    assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.part')));
  });
});

describe('two endpoints talking directly over TLS', () => {
  let a: MsrpEndpoint;
  let b: MsrpEndpoint;
  let dir: string;
  before(async () => {
    const pki = await testPki();
    dir = await mkdtemp(join(tmpdir(), 'msrp-client-tls-'));
    a = await listenEndpoint({ host: '127.0.0.1', tls: { cert: pki.server.cert, key: pki.server.key }, saveFilesTo: dir });
    assert.match(a.localUri, /^msrps:\/\//);
    b = await connected(a.localUri, { ca: pki.caPem });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('refuses an untrusted certificate unless told to be insecure', async () => {
    const r = await connectEndpoint(a.localUri);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'tls-failed');
    const insecure = await connected(a.localUri, { insecure: true });
    await insecure.close();
  });

  it('sends a multi-chunk file streamed from disk, saved under its name with the same bytes', async () => {
    const src = join(dir, '..', `src-${Date.now()}.bin`);
    const body = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(src, body);
    const headers = fileHeaders({ name: 'photo.jpg', size: body.length, sha256: sha256(body) });
    const r = await b.send({ toPath: [a.localUri], stream: createReadStream(src), size: body.length, headers, chunkSize: 256 * 1024, successReport: true });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.delivered, true);
    const m = await a.nextMessage(5000);
    assert.equal(m?.file?.digest, 'verified');
    assert.equal(m?.file?.sha256, sha256(body));
    assert.ok((await readFile(m.file.path)).equals(body));
    assert.equal(getHeader(m, 'Content-Disposition'), headers[0]!.value);
  });

  it('gets a failure REPORT when the file does not match its declared digest', async () => {
    const body = randomBytes(100_000);
    const headers = fileHeaders({ name: 'tampered.bin', size: body.length, sha256: sha256(Buffer.from('something else')) });
    const r = await b.send({ toPath: [a.localUri], message: body, headers, chunkSize: 30_000, successReport: true });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'failure-report');
    assert.equal(!r.ok && r.status, 400);
    const m = await a.nextMessage(2000);
    assert.equal(m?.file?.digest, 'mismatch');
    assert.match(m.file.path, /\.part$/);
  });

  it('tells the receiver to discard an aborted message ("#" chunk)', async () => {
    const ac = new AbortController();
    const body = randomBytes(2_000_000);
    const r = await b.send({ toPath: [a.localUri], message: body, headers: fileHeaders({ name: 'aborted.bin', size: body.length, sha256: sha256(body) }), chunkSize: 10_000, window: 1, signal: ac.signal, onProgress: (p) => { if (p.sent > 50_000) ac.abort(); } });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'aborted');
    // The "#" chunk is answered; afterwards no partial file is left behind.
    await b.send({ toPath: [a.localUri], message: 'sync' });
    assert.equal((await a.nextMessage(2000))?.body?.toString(), 'sync');
    assert.ok(!(await readdir(dir)).some((n) => n.includes('aborted.bin')));
  });
});
