// Connection over real loopback sockets: a quiet connection gives back its frame reader and
// the next bytes are read by a new one with nothing lost (releaseIdleReader).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import pino from 'pino';
import type { MsrpFrame } from '../msrp/frame.ts';
import type { MsrpParseError } from '../msrp/errors.ts';
import { Connection, type FrameHandler } from './connection.ts';
import { eventually } from '../testwait.ts';

function send(tid: string, body: string): string {
  return `MSRP ${tid} SEND\r\nTo-Path: msrp://r.example.com:2855/s1;tcp\r\nFrom-Path: msrp://a.example.com:7777/a;tcp\r\nMessage-ID: ${tid}\r\nContent-Type: text/plain\r\n\r\n${body}\r\n-------${tid}$\r\n`;
}

describe('Connection: quiet connections drop their frame reader', () => {
  let server: Server;
  let conn: Connection;
  let peer: Socket;
  const frames: MsrpFrame[] = [];
  const errors: MsrpParseError[] = [];
  let arrived: () => void = () => {};

  before(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    const handler: FrameHandler = {
      onFrame: (_c, f) => {
        frames.push(f);
        arrived();
      },
      onHead: () => {},
      onBody: () => {},
      onEnd: () => {},
      onParseError: (_c, e) => {
        errors.push(e);
        arrived();
      },
      onClose: () => {},
    };
    conn = new Connection({
      id: 't1', socket, direction: 'inbound', logger: pino({ level: 'silent' }), handler,
      limits: { maxHeaderBytes: 16384, streamThreshold: 65536 }, maxBufferedBytes: 1 << 20,
    });
  });

  after(() => {
    peer.destroy();
    conn.destroy();
    server.close();
  });

  const next = (write: string): Promise<void> => new Promise((r) => {
    arrived = r;
    peer.write(write);
  });
  /** Writes `data` and waits until the connection has read it (bytesIn is counted before parsing, in the same call). */
  const delivered = async (data: string): Promise<void> => {
    const want = conn.bytesIn + Buffer.byteLength(data);
    peer.write(data);
    await eventually(() => conn.bytesIn >= want, `${Buffer.byteLength(data)} bytes read by the connection`);
  };

  it('keeps the reader while bytes keep coming and while it holds part of a frame', async () => {
    await next(send('tid00001', 'one'));
    assert.equal(conn.releaseIdleReader(), false, 'first look only notes the byte count');
    const two = send('tid00002', 'two');
    await delivered(two.slice(0, 60));
    assert.equal(conn.releaseIdleReader(), false, 'bytes arrived since the last look');
    assert.equal(conn.releaseIdleReader(), false, 'quiet, but half a frame is held');
    await next(two.slice(60));
    assert.deepEqual(frames.map((f) => f.transactionId), ['tid00001', 'tid00002']);
    assert.equal(frames[1]!.body.toString(), 'two');
  });

  it('drops it after a quiet period between frames, and a new reader parses what comes next', async () => {
    assert.equal(conn.releaseIdleReader(), false, 'bytes arrived since the last look');
    assert.equal(conn.releaseIdleReader(), true, 'quiet and between frames');
    assert.equal(conn.releaseIdleReader(), false, 'nothing left to drop');
    await next(send('tid00003', 'three'));
    assert.deepEqual(frames.map((f) => f.transactionId), ['tid00001', 'tid00002', 'tid00003']);
    assert.equal(frames[2]!.body.toString(), 'three');
    assert.deepEqual(errors, []);
  });

  it('keeps a reader that framing was lost on, so the connection keeps refusing input', async () => {
    await next('NOT MSRP AT ALL\r\n');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.fatal, true);
    conn.releaseIdleReader();
    assert.equal(conn.releaseIdleReader(), false, 'a closed parser is not idle');
    await delivered(send('tid00004', 'late'));
    assert.deepEqual(frames.map((f) => f.transactionId), ['tid00001', 'tid00002', 'tid00003'], 'nothing read after framing was lost');
  });
});
