// SIP over UDP, TCP and TLS (RFC 3261 §18): the sockets of the SIP stack. internal/sip
// stays pure (docs/architecture.md §2.2); this file uses only its parser, serializer and
// routing rules.
//
// Receiving: UDP datagrams go through parseDatagram, byte streams through one
// SipStreamFramer per connection; the top Via of each request is stamped with
// received/rport (§18.2.1, RFC 3581). Sending: responses follow §18.2.2 (the request's
// connection, else received/rport), requests reuse a connection when given one and
// otherwise open a new one (TCP/TLS) or send a datagram.
//
// SIP over WebSocket (RFC 7118): `ws:`/`wss:` listeners (websocket.ts) with the `sip`
// subprotocol (others refused at the handshake); each WebSocket message is one SIP message,
// parsed as a datagram (§5.2). A WebSocket client cannot be reached but over the connection it
// opened (its Via and Contact hosts are `.invalid`, §5.2-§5.3): responses and in-dialog requests
// go over that connection, and are dropped (onUndeliverable) once it has closed.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureContextOptions } from 'node:tls';
import type { SipParseError } from '../sip/errors.ts';
import type { SipMessage } from '../sip/message.ts';
import { parseDatagram, SipStreamFramer, type SipParserOptions } from '../sip/parser.ts';
import { responseDestination, stampReceived } from '../sip/routing.ts';
import { serialize } from '../sip/serializer.ts';
import type { Destination } from '../sip/timers.ts';
import { listen, type Listener, type ListenerGuard } from './listeners.ts';
import type { UdpDrop, UdpGuard } from './udp-guard.ts';
import { listenWebSocket, WebSocketStream, type HandshakeRefusal } from './websocket.ts';

/** RFC 7118 §10.1: the registered WebSocket subprotocol name. */
export const SIP_SUBPROTOCOL = 'sip';
/** Default cap on one SIP message over WebSocket (a SIP message is held whole anyway). */
const WS_MAX_MESSAGE_BYTES = 64 * 1024;

type StreamSocket = Pick<Socket, 'write' | 'destroy' | 'destroyed'> | WebSocketStream;

export interface SipTransportOptions {
  /** Addresses to bind, e.g. ["127.0.0.1"] (default) or ["0.0.0.0", "::"]. */
  readonly hosts?: readonly string[];
  /** Ports; 0 picks a free one, absent disables the transport. */
  readonly udpPort?: number;
  readonly tcpPort?: number;
  readonly tlsPort?: number;
  readonly tls?: SecureContextOptions;
  /** Options for outbound TLS connections (CA, servername...). */
  readonly tlsClient?: ConnectionOptions;
  readonly limits?: SipParserOptions;
  /** Caps and timeouts of the TCP and TLS listeners, one count for both (docs/security.md "Connection caps"). */
  readonly guard?: ListenerGuard;
  /** Rate limit and anti-amplification on UDP (udp-guard.ts); `onDrop` hears each datagram not received or not sent. */
  readonly udpGuard?: UdpGuard;
  onDrop?(reason: UdpDrop, peer: Destination): void;
  /** SIP over WebSocket (RFC 7118): `ws:` and `wss:` (with `tls`) ports; absent = off. */
  readonly wsPort?: number;
  readonly wssPort?: number;
  /** Origins allowed on the WebSocket listeners; empty or absent: any. */
  readonly wsOrigins?: readonly string[];
  /** Largest WebSocket message (one SIP message); larger closes with 1009. Default 64 KiB. */
  readonly wsMaxMessageBytes?: number;
  onMessage(message: SipMessage, source: Destination): void;
  onError?(error: SipParseError, source: Destination): void;
  /** A WebSocket handshake was refused (bad subprotocol, origin...). */
  onRefused?(reason: HandshakeRefusal, detail: string): void;
  /** A message for a WebSocket connection that has closed (it cannot be reopened). */
  onUndeliverable?(message: SipMessage, destination: Destination): void;
  /** A WebSocket connection closed: what was sent over it will get no answer. */
  onWebSocketClosed?(connectionId: string): void;
}

export interface SipTransport {
  readonly udpPort: number | undefined;
  readonly tcpPort: number | undefined;
  readonly tlsPort: number | undefined;
  readonly wsPort: number | undefined;
  readonly wssPort: number | undefined;
  /** Sends a message; responses are routed per §18.2.2 from their Via and the request's source. */
  send(message: SipMessage, destination: Destination): void;
  /** Open TCP/TLS connections (accepted and opened). */
  readonly connectionCount: number;
  setSecureContext(options: SecureContextOptions): void;
  close(): Promise<void>;
}

export async function startSipTransport(options: SipTransportOptions): Promise<SipTransport> {
  const hosts = options.hosts ?? ['127.0.0.1'];
  const connections = new Map<string, StreamSocket>();
  const udpSockets: UdpSocket[] = [];
  let nextId = 0;

  const deliver = (message: SipMessage, source: Destination) => {
    options.onMessage(message.kind === 'request' ? stampReceived(message, source.address, source.port) : message, source);
  };

  const attach = (socket: Socket, transport: 'TCP' | 'TLS'): string => {
    const id = `${transport.toLowerCase()}-${++nextId}`;
    connections.set(id, socket);
    const source = (): Destination => ({ transport, address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, connectionId: id });
    const framer = new SipStreamFramer({
      onMessage: (m) => deliver(m, source()),
      onError: (e) => {
        options.onError?.(e, source());
        if (e.fatal) socket.destroy();
      },
      // RFC 5626 §3.5.1: a CRLF CRLF ping is answered with a CRLF pong.
      onKeepAlive: () => socket.write('\r\n'),
    }, options.limits);
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('end', () => {
      framer.end();
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => connections.delete(id));
    return id;
  };

  const attachWebSocket = (stream: WebSocketStream, transport: 'WS' | 'WSS'): void => {
    const id = `${transport.toLowerCase()}-${++nextId}`;
    connections.set(id, stream);
    const source: Destination = { transport, address: stream.remoteAddress ?? '', port: stream.remotePort ?? 0, connectionId: id };
    stream.on('data', (message: Buffer) => {
      const r = parseDatagram(message, options.limits);
      if (r === undefined) return; // keep-alive
      if (r.ok) deliver(r.value, source);
      else options.onError?.(r.error, source);
    });
    stream.on('error', () => stream.destroy());
    stream.on('close', () => {
      connections.delete(id);
      options.onWebSocketClosed?.(id);
    });
  };

  let tcp: Listener | undefined;
  let tls: Listener | undefined;
  if (options.tcpPort !== undefined) {
    tcp = await listen({ hosts: [...hosts], port: options.tcpPort, onSocket: (s) => attach(s, 'TCP'), ...(options.guard === undefined ? {} : { guard: options.guard }) });
  }
  if (options.tlsPort !== undefined) {
    if (!options.tls) throw new Error('tlsPort needs tls options');
    tls = await listen({ hosts: [...hosts], port: options.tlsPort, tls: options.tls, onSocket: (s) => attach(s, 'TLS'), ...(options.guard === undefined ? {} : { guard: options.guard }) });
  }
  const wsListener = async (port: number, transport: 'WS' | 'WSS'): Promise<Listener> => {
    if (transport === 'WSS' && !options.tls) throw new Error('wssPort needs tls options');
    return listenWebSocket({
      hosts: [...hosts], port, subprotocol: SIP_SUBPROTOCOL, origins: options.wsOrigins ?? [],
      maxMessageBytes: options.wsMaxMessageBytes ?? WS_MAX_MESSAGE_BYTES, messages: true,
      ...(transport === 'WSS' ? { tls: options.tls } : {}),
      onSocket: (s) => attachWebSocket(s, transport),
      onRefused: (reason, detail) => options.onRefused?.(reason, detail),
      // One count with the TCP and TLS listeners (docs/security.md "Connection caps").
      ...(options.guard === undefined ? {} : { guard: options.guard }),
    });
  };
  const ws = options.wsPort === undefined ? undefined : await wsListener(options.wsPort, 'WS');
  const wss = options.wssPort === undefined ? undefined : await wsListener(options.wssPort, 'WSS');
  let udpPort = options.udpPort;
  if (udpPort !== undefined) {
    for (const host of hosts) {
      const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
      socket.on('message', (datagram, rinfo) => {
        const source: Destination = { transport: 'UDP', address: rinfo.address, port: rinfo.port };
        const dropped = options.udpGuard?.received(rinfo.address, rinfo.port, datagram.length);
        if (dropped !== undefined) {
          options.onDrop?.(dropped, source);
          return;
        }
        const r = parseDatagram(datagram, options.limits);
        if (r === undefined) return; // keep-alive
        if (r.ok) deliver(r.value, source);
        else options.onError?.(r.error, source);
      });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(udpPort, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (udpPort === 0) udpPort = socket.address().port;
      udpSockets.push(socket);
    }
  }

  /** Messages already sent once: the transaction layer resends the same object (udp-guard.ts: a retransmission is not a first request). */
  const sentOnce = new WeakSet<SipMessage>();
  let closed = false;
  const udpFor = (address: string) => udpSockets.find((s) => (s.address().family === 'IPv6') === address.includes(':')) ?? udpSockets[0];

  const openConnection = (destination: Destination): Socket => {
    const transport = destination.transport.toUpperCase() === 'TLS' ? 'TLS' : 'TCP';
    const socket = transport === 'TLS'
      ? tlsConnect({ ...options.tlsClient, host: destination.address, port: destination.port })
      : tcpConnect({ host: destination.address, port: destination.port });
    attach(socket, transport);
    return socket;
  };

  return {
    udpPort: udpSockets.length > 0 ? udpPort : undefined,
    tcpPort: tcp?.port,
    tlsPort: tls?.port,
    wsPort: ws?.port,
    wssPort: wss?.port,
    get connectionCount() {
      return connections.size;
    },
    send(message, destination) {
      // Timers of transactions may still fire after close (their last retransmission): nothing goes out.
      if (closed) return;
      const target = message.kind === 'response' ? responseDestination(message, destination) : destination;
      const bytes = serialize(message);
      if (target.transport.toUpperCase() === 'UDP') {
        const socket = udpFor(target.address);
        if (!socket) throw new Error('no UDP socket');
        if (options.udpGuard !== undefined) {
          const first = message.kind === 'request' && !sentOnce.has(message);
          sentOnce.add(message);
          const dropped = options.udpGuard.maySend(target.address, target.port, bytes.length, first);
          if (dropped !== undefined) {
            options.onDrop?.(dropped, target);
            return;
          }
        }
        socket.send(bytes, target.port, target.address);
        return;
      }
      const existing = target.connectionId === undefined ? undefined : connections.get(target.connectionId);
      // A WebSocket that is closing takes no more messages (it would drop them silently).
      const live = existing && !existing.destroyed && !(existing instanceof WebSocketStream && !existing.open) ? existing : undefined;
      if (!live && target.transport.toUpperCase().startsWith('WS')) {
        options.onUndeliverable?.(message, target);
        return;
      }
      const socket = live ?? openConnection(target);
      socket.write(bytes);
    },
    setSecureContext(context) {
      tls?.setSecureContext(context);
      wss?.setSecureContext(context);
    },
    async close() {
      closed = true;
      tcp?.close();
      tls?.close();
      ws?.close();
      wss?.close();
      for (const s of connections.values()) s.destroy();
      await Promise.all(udpSockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
