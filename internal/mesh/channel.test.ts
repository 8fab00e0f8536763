// The mesh channel between replicas (channel.ts) over real mutual TLS on 127.0.1.k with the
// test mesh PKI (transport/testcerts.ts): JSON calls, an event stream, an Upgrade to a raw
// pipe; and who may talk: a client certificate from another CA or naming no replica is
// refused, and a client refuses a server that is not the replica it dialled.
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadTlsMaterial, type TlsMaterial } from '../transport/tls-files.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { startMeshChannel, type MeshChannel, type MeshChannelHandlers } from './channel.ts';

const log = pino({ level: 'silent' });

async function freePortOn(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r, j) => s.listen(0, host, r).once('error', j));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const handlers: MeshChannelHandlers = {
  onRequest(req, res) {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const text = JSON.stringify({ method: req.method, url: req.url, got: parts.length === 0 ? null : JSON.parse(Buffer.concat(parts).toString()) as unknown });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    });
  },
  onUpgrade(_req, socket, head) {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  },
};

describe('mesh channel', () => {
  let pki: TestPki;
  let mesh: TlsMaterial;
  let port: number;
  const channels: MeshChannel[] = [];
  const start = async (ordinal: number, tls: TlsMaterial = mesh, peerHost = '127.0.1.{ordinal}'): Promise<MeshChannel> => {
    const c = await startMeshChannel({ ordinal, peerHost, port, listenHosts: [`127.0.1.${ordinal}`], tls, connectTimeoutMs: 1000 }, handlers, log);
    channels.push(c);
    return c;
  };

  before(async () => {
    pki = await testPki();
    mesh = await loadTlsMaterial(pki.mesh.dir);
    port = await freePortOn('127.0.1.0');
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
  });

  it('carries JSON calls, an event stream and an upgraded byte pipe between two replicas', async () => {
    const a = await start(0);
    await start(1);
    const r = await a.call<{ method: string; url: string; got: unknown }>(1, 'POST', '/v1/x', { hello: 'replica 1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { method: 'POST', url: '/v1/x', got: { hello: 'replica 1' } });
    const stream = await a.stream(1, '/events');
    const first = await new Promise<string>((resolve) => stream.once('data', (b: Buffer) => resolve(b.toString())));
    assert.equal(first, 'data: {"n":1}\n\n');
    stream.destroy();
    const pipe = await a.upgrade(1, '/v1/pipe', 'echo');
    pipe.write('ping across replicas');
    const echoed = await new Promise<string>((resolve) => pipe.once('data', (b: Buffer) => resolve(b.toString())));
    assert.equal(echoed, 'ping across replicas');
    pipe.destroy();
  });

  it('refuses a client whose certificate comes from another CA, or names no replica', async () => {
    for (const dir of [pki.meshWrongCa.dir, pki.meshWrongName.dir]) {
      const m = await loadTlsMaterial(dir);
      const refused = await new Promise<boolean>((resolve) => {
        const s = tlsConnect({ host: '127.0.1.1', port, cert: m.cert, key: m.key, ca: mesh.ca, checkServerIdentity: () => undefined });
        s.once('secureConnect', () => {
          s.write('GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n');
        });
        s.once('data', () => resolve(false));
        s.once('close', () => resolve(true));
        s.once('error', () => undefined);
      });
      assert.equal(refused, true, `${dir} refused`);
    }
  });

  it('refuses a server that is not the replica it dialled', async () => {
    // "localhost" reaches a mesh listener (this one) whose certificate names 127.0.1.0-7 and
    // *.mesh.test only: the chain is trusted, the name is not the one dialled.
    const odd = await startMeshChannel({ ordinal: 0, peerHost: 'localhost', port: await freePortOn('127.0.0.1'), listenHosts: ['127.0.0.1'], tls: mesh, connectTimeoutMs: 1000 }, handlers, log);
    channels.push(odd);
    await assert.rejects(odd.call(3, 'GET', '/v1/x'), (e: Error & { code?: string }) => e.code === 'unreachable' && /localhost|altnames|certificate/i.test(e.message));
  });
});
