// Chunk interruption at the switch (RFC 4975 §7.1.1, outbox.ts): a 100 KB text sent while a
// 200 MB file streams into the room as one chunk reaches a recipient long before the file
// has finished, and the file still arrives intact. Real sockets, the file hashed as it flows.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { formatCpim } from '../../msrp/cpim.ts';
import type { MsrpRequestHead } from '../../msrp/frame.ts';
import { newMessageId } from '../../msrp/transaction.ts';
import { getHeader, join, ROOM_URI, startTestSwitch, type TestPeer } from './testpeer.ts';

const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

const MiB = 1024 * 1024;
const FILE_BYTES = 200 * MiB;

/** Hashes, as it arrives, the body of the chunks whose Byte-Range total is `total`. */
function fileReceiver(p: TestPeer, total: number) {
  const hash = createHash('sha256');
  const pieceStarts: number[] = [];
  const errors: string[] = [];
  let bytes = 0;
  let last: MsrpRequestHead | undefined;
  let waiter: { at: number; resolve: () => void } | undefined;
  p.bodySink = (head, segment) => {
    const range = getHeader(head, 'Byte-Range') ?? '';
    if (!range.endsWith(`/${total}`)) return false;
    if (head !== last) {
      last = head;
      const start = Number(range.slice(0, range.indexOf('-')));
      pieceStarts.push(start);
      // Each piece (the chunk, or its rest after an interruption) continues where the last stopped.
      if (start !== bytes + 1) errors.push(`piece at ${start} after ${bytes} bytes`);
    }
    hash.update(segment);
    bytes += segment.length;
    if (waiter !== undefined && bytes >= waiter.at) {
      waiter.resolve();
      waiter = undefined;
    }
    return true;
  };
  return {
    pieceStarts, errors,
    get bytes() { return bytes; },
    digest: () => hash.digest('hex'),
    reached: (at: number) => new Promise<void>((resolve) => {
      if (bytes >= at) resolve();
      else waiter = { at, resolve };
    }),
  };
}

describe('chunk interruption at the switch (RFC 4975 §7.1.1)', () => {
  it('a 100 KB text overtakes a 200 MB file in flight on the same connection; the file arrives intact', async (t) => {
    // The sender is paced by the room's byte rate (flood control) so the recipients' queues
    // stay short; the queue bound is raised so a loaded machine does not drop a recipient.
    const sw = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 100 * MiB, byteBurst: 8 * MiB, notices: false, chunkTimeoutMs: 60_000 }, { maxQueueBytes: 64 * MiB });
    stops.push(sw.stop);
    const alice = await join(sw.room, sw.listener.port, 'sip:alice@example.com');
    const bob = await join(sw.room, sw.listener.port, 'sip:bob@example.com');
    const carol = await join(sw.room, sw.listener.port, 'sip:carol@example.com');

    const cpimHead = formatCpim({ from: { uri: alice.sipUri }, to: [{ uri: ROOM_URI }], dateTime: new Date(), contentType: 'application/octet-stream', content: '' });
    const total = cpimHead.length + FILE_BYTES;
    const atCarol = fileReceiver(carol, total);
    const atBob = fileReceiver(bob, total);

    // Alice streams the file as ONE chunk: without interruption it would hold Carol's connection to its end.
    const sent = createHash('sha256').update(cpimHead);
    const tid = alice.startChunk(newMessageId(), `1-${total}/${total}`, cpimHead);
    const sending = (async () => {
      for (let off = 0; off < FILE_BYTES; off += MiB) {
        const slice = randomBytes(MiB);
        sent.update(slice);
        if (!alice.socket.write(slice)) await once(alice.socket, 'drain');
      }
      alice.endChunk(tid, '$');
      return alice.response(tid, 120_000);
    })();

    await atCarol.reached(FILE_BYTES / 10);
    const text = Buffer.alloc(100 * 1024, 'chat text while a file streams. ');
    const marker = `marker ${newMessageId()}`;
    const t0 = performance.now();
    const textRes = bob.response(bob.send(bob.cpim({ to: ROOM_URI, text: `${marker} ${text.toString()}` })).transactionId, 120_000);
    const got = await carol.nextText(marker, 120_000);
    const textDelay = got.endAt - t0;
    assert.equal((await textRes).status, 200);
    const fileEnd = await carol.next((r) => getHeader(r.head, 'Byte-Range')?.endsWith(`/${total}`) === true && r.continuation === '$', 120_000);
    const remaining = fileEnd.endAt - t0;
    assert.equal((await sending).status, 200);
    t.diagnostic(`text delay ${textDelay.toFixed(1)} ms; file finished ${remaining.toFixed(0)} ms after the text was sent; file pieces at Carol ${atCarol.pieceStarts.length}`);

    // Bounded delay, measured against the file's own remaining time (not a wall-clock
    // constant): without interruption the text would come after the file (ratio >= 1).
    assert.ok(got.endAt < fileEnd.endAt, 'the text arrived while the file was still in flight');
    assert.ok(textDelay < remaining / 2, `text delay ${textDelay.toFixed(1)} ms vs ${remaining.toFixed(0)} ms left of the file`);
    assert.ok(atCarol.pieceStarts.length >= 2, 'the file chunk was interrupted at least once');
    // Intact: every piece continues where the last stopped, and the hash matches.
    const digest = sent.digest('hex');
    for (const r of [atCarol, atBob]) {
      assert.deepEqual(r.errors, []);
      assert.equal(r.bytes, total);
      assert.equal(r.digest(), digest);
    }
  });
});
