// Chunk interruption on a shared next-hop connection (RFC 4975 §7.1.1, inbound.ts): two
// sessions of the relay send to the same next hop (one pooled TLS connection, as between
// relays or from the relay to a chat switch). A 100 KB text sent while a 200 MB one-chunk
// file is in flight reaches the next hop long before the file has finished, and the file
// arrives intact. Real sockets; the next hop hashes the file as it flows.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { getHeader, type MsrpRequestHead } from '../msrp/frame.ts';
import { MsrpParser } from '../msrp/parser.ts';
import { serializeHead, toBuffers } from '../msrp/serializer.ts';
import { buildResponse, newMessageId, newTransactionId } from '../msrp/transaction.ts';
import { testPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

const MiB = 1024 * 1024;
const FILE_BYTES = 200 * MiB;

const relays: TestRelay[] = [];
const servers: TlsServer[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  for (const r of relays) await r.relay.stop();
});

interface Arrival { head: MsrpRequestHead; flag: string; at: number; bytes: number }

/**
 * A next hop on TLS that answers every request 200 (RFC 4975 §7.2), hashes the body of the
 * chunks whose Byte-Range total is `fileTotal` in arrival order, and keeps the others.
 */
async function nextHop(fileTotal: number, statusFor: (head: MsrpRequestHead) => number = () => 200) {
  const pki = await testPki();
  const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key });
  servers.push(server);
  const hash = createHash('sha256');
  const pieceStarts: number[] = [];
  const errors: string[] = [];
  const arrivals: Arrival[] = [];
  const connections = new Set<Socket>();
  let fileBytes = 0;
  let progress: { at: number; resolve: () => void } | undefined;
  const ended: ((a: Arrival) => void)[] = [];
  server.on('secureConnection', (socket: Socket) => {
    connections.add(socket);
    let cur: { head: MsrpRequestHead; file: boolean; bytes: number } | undefined;
    const answer = (head: MsrpRequestHead): void => {
      socket.write(Buffer.concat(toBuffers(buildResponse({ ...head, body: [], continuation: '$' }, statusFor(head)))));
    };
    const arrived = (a: Arrival): void => {
      arrivals.push(a);
      for (const fn of ended.splice(0)) fn(a);
    };
    const parser = new MsrpParser({
      onFrame: (f) => {
        if (f.kind !== 'request') return;
        answer(f);
        let n = 0;
        for (const b of f.body) n += b.length;
        arrived({ head: f, flag: f.continuation, at: performance.now(), bytes: n });
      },
      onHead: (h) => {
        if (h.kind !== 'request') return;
        const range = getHeader(h, 'Byte-Range') ?? '';
        const file = range.endsWith(`/${fileTotal}`);
        if (file) {
          const start = Number(range.slice(0, range.indexOf('-')));
          pieceStarts.push(start);
          // Each piece (the chunk, or its rest after an interruption) continues where the last stopped.
          if (start !== fileBytes + 1) errors.push(`piece at ${start} after ${fileBytes} bytes`);
        }
        cur = { head: h, file, bytes: 0 };
      },
      onBody: (b) => {
        if (cur === undefined) return;
        cur.bytes += b.length;
        if (!cur.file) return;
        hash.update(b);
        fileBytes += b.length;
        if (progress !== undefined && fileBytes >= progress.at) {
          progress.resolve();
          progress = undefined;
        }
      },
      onEnd: (flag) => {
        const c = cur!;
        cur = undefined;
        answer(c.head);
        arrived({ head: c.head, flag, at: performance.now(), bytes: c.bytes });
      },
    }, { maxBufferedBody: 16 * 1024 });
    socket.on('data', (d: Buffer) => parser.push(d));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    connections, pieceStarts, errors, arrivals,
    /** Stops (true) or resumes reading every connection: the relay's writes back up. */
    reading: (on: boolean) => {
      for (const c of connections) {
        if (on) c.resume();
        else c.pause();
      }
    },
    get fileBytes() { return fileBytes; },
    digest: () => hash.digest('hex'),
    reached: (at: number) => new Promise<void>((resolve) => {
      if (fileBytes >= at) resolve();
      else progress = { at, resolve };
    }),
    /** The first arrival (past or future) that `match` accepts. */
    arrival: (match: (a: Arrival) => boolean) => new Promise<Arrival>((resolve) => {
      const seen = arrivals.find(match);
      if (seen !== undefined) return resolve(seen);
      const wait = (a: Arrival): void => {
        if (match(a)) resolve(a);
        else ended.push(wait);
      };
      ended.push(wait);
    }),
  };
}

/**
 * A relay with two authenticated sessions, alice's (`a`) and bob's (`c`), sending through it
 * to the next hop on `hopPort`. `startFile` writes the head of a SEND from alice of `total`
 * bytes as ONE chunk (Byte-Range 1-total/total) and returns its transaction id; the body
 * and end-line are the caller's to write on `a.socket`.
 */
async function sessionsTo(hopPort: number) {
  const r = await startTestRelay();
  relays.push(r);
  const a = await TestClient.connect({ port: r.port, ca: r.ca });
  const c = await TestClient.connect({ port: r.port, ca: r.ca });
  clients.push(a, c);
  const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
  const sc = usePathOf(await c.auth(r.relay.uri, 'bob', 'bob-pw'));
  const target = (id: string): string => `msrps://127.0.0.1:${hopPort}/${id};tcp`;
  const startFile = (total: number, messageId: string): string => {
    const tid = newTransactionId();
    a.socket.write(serializeHead({
      kind: 'request', method: 'SEND', transactionId: tid, toPath: [sa, target('file')], fromPath: [a.uri],
      headers: [{ name: 'Message-ID', value: messageId }, { name: 'Byte-Range', value: `1-${total}/${total}` }, { name: 'Content-Type', value: 'application/octet-stream' }],
    }));
    return tid;
  };
  return { a, c, sc, target, startFile };
}

describe('chunk interruption on a shared next-hop connection (RFC 4975 §7.1.1)', () => {
  it('a 100 KB text overtakes a 200 MB file in flight on the same connection; the file arrives intact', async (t) => {
    const total = FILE_BYTES;
    const hop = await nextHop(total);
    const { a, c, sc, target, startFile } = await sessionsTo(hop.port);

    // A streams the file as ONE chunk: without interruption it would hold the relay's
    // connection to the next hop until its last byte.
    const tid = startFile(total, newMessageId());
    const sent = createHash('sha256');
    const sending = (async () => {
      for (let off = 0; off < FILE_BYTES; off += MiB) {
        const slice = randomBytes(MiB);
        sent.update(slice);
        if (!a.socket.write(slice)) await once(a.socket, 'drain');
      }
      a.socket.write(`\r\n-------${tid}$\r\n`);
      return a.response(tid, 120_000);
    })();

    await hop.reached(FILE_BYTES / 10);
    const marker = `marker ${newMessageId()}`;
    const text = Buffer.concat([Buffer.from(marker), Buffer.alloc(100 * 1024 - marker.length, 'text while a file streams. ')]);
    const t0 = performance.now();
    const textSent = c.sendMessage([sc, target('text')], text);
    const got = await hop.arrival((x) => getHeader(x.head, 'Byte-Range') === `1-${text.length}/${text.length}` && x.flag === '$');
    const textDelay = got.at - t0;
    assert.equal((await c.response(textSent.transactionId, 120_000)).status, 200);
    const fileEnd = await hop.arrival((x) => getHeader(x.head, 'Byte-Range')?.endsWith(`/${total}`) === true && x.flag === '$');
    const remaining = fileEnd.at - t0;
    assert.equal((await sending).status, 200);
    t.diagnostic(`text delay ${textDelay.toFixed(1)} ms; file finished ${remaining.toFixed(0)} ms after the text was sent; file pieces ${hop.pieceStarts.length}`);

    assert.equal(hop.connections.size, 1, 'both sessions share one connection to the next hop');
    assert.equal(got.bytes, text.length);
    // Bounded delay, measured against the file's own remaining time (not a wall-clock
    // constant): without interruption the text would come after the file (ratio >= 1).
    assert.ok(got.at < fileEnd.at, 'the text arrived while the file was still in flight');
    assert.ok(textDelay < remaining / 2, `text delay ${textDelay.toFixed(1)} ms vs ${remaining.toFixed(0)} ms left of the file`);
    assert.ok(hop.pieceStarts.length >= 2, 'the file chunk was interrupted at least once');
    // Intact: every piece continues where the last stopped, and the hash matches.
    assert.deepEqual(hop.errors, []);
    assert.equal(hop.fileBytes, total);
    assert.equal(hop.digest(), sent.digest('hex'));
    // Every piece was a transaction of its own, answered: nothing left open, no failure REPORT.
    assert.ok(!a.frames.some((f) => f.kind === 'request' && f.method === 'REPORT'), 'no REPORT reached the sender');
  });
});

describe('an interrupted chunk that the next hop refuses', () => {
  it('a refusal of its first piece reaches the sender (413 response or failure REPORT), the rest still arrives in order', async () => {
    const total = 8 * MiB;
    // The next hop refuses the first piece of the file (Byte-Range from 1) with 413.
    const hop = await nextHop(total, (h) => (getHeader(h, 'Byte-Range')?.startsWith(`1-${total}/`) === true ? 413 : 200));
    const { a, c, sc, target, startFile } = await sessionsTo(hop.port);
    const messageId = newMessageId();
    const tid = startFile(total, messageId);
    const file = randomBytes(total);
    a.socket.write(file.subarray(0, 2 * MiB));
    await hop.reached(MiB);
    // The file holds the connection and the next hop stops reading: the text must wait for
    // the outlet, which makes the file yield (its piece already wrote over 64 KiB).
    hop.reading(false);
    const textSent = c.sendMessage([sc, target('text')], 'short text');
    assert.equal((await c.response(textSent.transactionId, 30_000)).status, 200);
    a.socket.write(file.subarray(2 * MiB));
    a.socket.write(`\r\n-------${tid}$\r\n`);
    hop.reading(true);
    const fileEnd = await hop.arrival((x) => getHeader(x.head, 'Byte-Range')?.endsWith(`/${total}`) === true && x.flag === '$');
    const text = await hop.arrival((x) => x.bytes === 'short text'.length);
    assert.ok(text.at < fileEnd.at, 'the text went between the pieces');
    assert.ok(hop.pieceStarts.length >= 2, 'the file was interrupted');
    assert.deepEqual(hop.errors, []);
    assert.equal(hop.fileBytes, total);
    // RFC 4975 §7.1.2: the sender learns of the failure, as an error response when the
    // chunk was not yet answered, else as a failure REPORT.
    const outcome = await a.next((f) => (f.kind === 'response' && f.transactionId === tid) || (f.kind === 'request' && f.method === 'REPORT'), 30_000);
    if (outcome.kind === 'response') assert.equal(outcome.status, 413);
    else {
      assert.match(getHeader(outcome, 'Status') ?? '', /^000 413/);
      assert.equal(getHeader(outcome, 'Message-ID'), messageId);
    }
  });
});
