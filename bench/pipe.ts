// The physical limit for bench/relay.bench.ts: a raw socket pipe, bytes in → bytes out, no
// parsing. Run as a child process:
//   node bench/pipe.ts '{"certDir": "/path/with/tls.crt+tls.key"}'
// It listens on 127.0.0.1 with TCP and TLS and joins inbound connections pairwise in the
// order they are established (the 1st with the 2nd, the 3rd with the 4th, ... per listener):
// what one peer writes comes out at the other, both ways, with stream backpressure
// (`pipe()`). Like a relay, it terminates TLS on both sides, so a TLS run pays for
// decryption and re-encryption once each, exactly as the relay does. The load generator
// connects the receiver first and the sender after it (bench/loadgen.ts, bulk mode).
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { serveControl } from './common.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { certDir: string };

function pairing(): (s: Socket) => void {
  let waiting: Socket | undefined;
  return (s) => {
    s.setNoDelay(true);
    s.on('error', () => s.destroy());
    if (waiting === undefined || waiting.destroyed) {
      waiting = s;
      return;
    }
    const other = waiting;
    waiting = undefined;
    other.pipe(s);
    s.pipe(other);
    s.once('close', () => other.destroy());
    other.once('close', () => s.destroy());
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const tcp = createTcpServer();
const tls = createTlsServer({ cert: readFileSync(join(args.certDir, 'tls.crt')), key: readFileSync(join(args.certDir, 'tls.key')), minVersion: 'TLSv1.2' });
tls.on('tlsClientError', (_e, s: Socket) => s.destroy());
tcp.on('connection', pairing());
tls.on('secureConnection', pairing());
const tcpPort = await listen(tcp);
const tlsPort = await listen(tls);
serveControl({ tcpPort, tlsPort });
