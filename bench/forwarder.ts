// A minimal MSRP forwarder: the baseline for what a Node relay costs when it does only what
// a relay must (bench/relay.bench.ts). Run as a child process:
//   node bench/forwarder.ts '{"certDir": "/path/with/tls.crt+tls.key"}'
// It listens on 127.0.0.1 with TCP and TLS (free ports, printed in the ready line) and:
//  - answers every AUTH at once with 200 + Use-Path (sessions are "pre-authenticated": no
//    Digest, no nonce, no credential look-up);
//  - for a request, finds the head with Buffer#indexOf (start line, To-Path and From-Path
//    are the first two headers, as every peer here writes them), looks up the session of the
//    first To-Path URI, rewrites the paths (RFC 4976 §6.4: our URI leaves To-Path and goes
//    to the front of From-Path; when the next hop is another session of ours, both hops are
//    applied at once), writes the new head and the rest of the frame unchanged (same
//    transaction id, as Kamailio does), and answers the SEND with 200; all writes caused by
//    one read are corked and leave together (one writev per destination per read);
//  - drops responses (they are hop-by-hop and end here).
// No validation, no transaction tracking, no REPORTs, no flow control, no limits: this is a
// yardstick, not a relay. Small frames only (a partial frame is joined with the next read).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { Scanner, serveControl, type ScannedFrame } from './common.ts';

interface Conn {
  socket: Socket;
  sids: string[];
  prefix: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as { certDir: string };
const sessions = new Map<string, Conn>();

function sidOf(uri: string): string {
  const slash = uri.lastIndexOf('/');
  const semi = uri.indexOf(';', slash);
  return uri.slice(slash + 1, semi < 0 ? uri.length : semi);
}

function onFrame(conn: Conn, f: ScannedFrame): void {
  if (f.status !== 0) return; // a response: hop-by-hop, ends here
  const { buf, tid, method } = f;
  const toStart = f.lineEnd + 2;
  const toEnd = buf.indexOf('\r\n', toStart, 'latin1');
  const fromEnd = buf.indexOf('\r\n', toEnd + 2, 'latin1');
  const toPath = buf.toString('latin1', toStart + 9, toEnd).split(' '); // "To-Path: "
  const fromPath = buf.toString('latin1', toEnd + 2 + 11, fromEnd); // "From-Path: "
  if (method === 'AUTH') {
    const sid = randomBytes(10).toString('hex');
    sessions.set(sid, conn);
    conn.sids.push(sid);
    const prev = fromPath.split(' ')[0];
    conn.socket.write(`MSRP ${tid} 200 OK\r\nTo-Path: ${prev}\r\nFrom-Path: ${toPath[0]}\r\nUse-Path: ${conn.prefix}/${sid};tcp\r\nExpires: 3600\r\n-------${tid}$\r\n`, 'latin1');
    return;
  }
  const first = toPath[0]!;
  let target = sessions.get(sidOf(first));
  let rest = 1;
  let from = `${first} ${fromPath}`;
  if (target === conn && toPath.length > 2) {
    // From the session's own client: the next hop is the other client's session on this relay.
    target = sessions.get(sidOf(toPath[1]!));
    from = `${toPath[1]} ${from}`;
    rest = 2;
  }
  if (target === undefined || target.socket.destroyed) {
    if (method === 'SEND') conn.socket.write(`MSRP ${tid} 481 No session\r\nTo-Path: ${fromPath.split(' ')[0]}\r\nFrom-Path: ${first}\r\n-------${tid}$\r\n`, 'latin1');
    return;
  }
  const out = corked(target.socket);
  out.write(`MSRP ${tid} ${method}\r\nTo-Path: ${toPath.slice(rest).join(' ')}\r\nFrom-Path: ${from}\r\n`, 'latin1');
  out.write(buf.subarray(fromEnd + 2, f.end));
  if (method === 'SEND') {
    const prev = fromPath.indexOf(' ') < 0 ? fromPath : fromPath.slice(0, fromPath.indexOf(' '));
    corked(conn.socket).write(`MSRP ${tid} 200 OK\r\nTo-Path: ${prev}\r\nFrom-Path: ${first}\r\n-------${tid}$\r\n`, 'latin1');
  }
}

// Writes made while one read is processed are corked and go out together when it is done
// (one writev per destination per read instead of one per frame).
const corkedNow = new Set<Socket>();
function corked(s: Socket): Socket {
  if (!corkedNow.has(s)) {
    corkedNow.add(s);
    s.cork();
  }
  return s;
}

function adopt(socket: Socket, prefix: string): void {
  socket.setNoDelay(true);
  const conn: Conn = { socket, sids: [], prefix };
  const scanner = new Scanner((f) => onFrame(conn, f));
  socket.on('data', (d: Buffer) => {
    scanner.push(d);
    for (const s of corkedNow) s.uncork();
    corkedNow.clear();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    for (const s of conn.sids) sessions.delete(s);
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const tcp = createTcpServer();
const tls = createTlsServer({ cert: readFileSync(join(args.certDir, 'tls.crt')), key: readFileSync(join(args.certDir, 'tls.key')), minVersion: 'TLSv1.2' });
tls.on('tlsClientError', (_e, s: Socket) => s.destroy());
const tcpPort = await listen(tcp);
const tlsPort = await listen(tls);
tcp.on('connection', (s: Socket) => adopt(s, `msrp://127.0.0.1:${tcpPort}`));
tls.on('secureConnection', (s: Socket) => adopt(s, `msrps://127.0.0.1:${tlsPort}`));
serveControl({ tcpPort, tlsPort, uriTcp: `msrp://127.0.0.1:${tcpPort};tcp`, uriTls: `msrps://127.0.0.1:${tlsPort};tcp` }, (cmd) => {
  if (cmd !== 'stats') return false;
  process.stdout.write(`${JSON.stringify({ stats: { sessions: sessions.size } })}\n`);
  return true;
});
