// A participant's MSRP connection that reached the switch listener of a replica that does
// not own the room (docs/chat.md "Several pods"): the load balancer picks the pod, the
// session URI names the owner (`r<k>-`, docs/architecture.md §4.2). The first request's
// head is read here, up to its To-Path; when the session id names another replica, the
// connection is spliced to that replica's switch over the mesh channel (`Upgrade: msrp`):
// what was read goes first, then bytes flow both ways with backpressure (pipe) and both
// sides close together. The owner's switch then sees the participant's own frames, paths
// unchanged, and applies its usual checks (RFC 4975 §5.4 binding, From-Path ending with the
// participant's URI); the TCP peer being a replica rather than the client changes nothing
// there (the a=path checks of chat.media ran at the INVITE, on the SIP source address).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ownerOf } from '../mesh/ownership.ts';

/** The head of a first request is bounded like any (maxHeaderBytes); past this we stop looking. */
const MAX_LOOKAHEAD = 16 * 1024;

/**
 * Where the first request on a connection goes, from its first bytes: the owner's ordinal,
 * 'here' (our session, no session prefix, not MSRP: the switch answers), or 'more' (the
 * To-Path line is not complete yet).
 */
export function firstRequestOwner(bytes: Buffer, self: number): number | 'here' | 'more' {
  // RFC 4975 §7.1: "MSRP" SP transact-id SP method CRLF, then To-Path (first, in practice).
  if (bytes.length >= 5 && bytes.subarray(0, 5).toString('latin1') !== 'MSRP ') return 'here';
  const text = bytes.subarray(0, MAX_LOOKAHEAD).toString('latin1');
  const at = text.search(/\r\nTo-Path:/i);
  const headEnd = text.indexOf('\r\n\r\n');
  if (at < 0 || (headEnd >= 0 && headEnd < at)) {
    return headEnd >= 0 || bytes.length >= MAX_LOOKAHEAD ? 'here' : 'more';
  }
  const eol = text.indexOf('\r\n', at + 2);
  if (eol < 0) return bytes.length >= MAX_LOOKAHEAD ? 'here' : 'more';
  // At the switch, To-Path holds one URI: the device's session at the switch (relays before
  // it removed theirs, RFC 4976 §7.1). Its session id is the path's last segment.
  const first = text.slice(at + 10, eol).trim().split(/\s+/)[0] ?? '';
  const m = /^msrps?:\/\/[^/]+\/([^;]+)/i.exec(first);
  const owner = m === null ? undefined : ownerOf(m[1]!);
  return owner === undefined || owner === self ? 'here' : owner;
}

export interface HandoffOptions {
  readonly ordinal: number;
  /** The switch takes a connection that is ours (its data not yet read, or put back). */
  adopt(socket: Socket): void;
  /** A raw byte pipe to replica `owner`'s switch (RoomMesh upgrade over the mesh channel). */
  connect(owner: number): Promise<Socket>;
  readonly log: Logger;
  /** 'here' (kept), 'spliced' (passed to the owner), 'failed' (owner unreachable: closed). */
  counted?(outcome: 'here' | 'spliced' | 'failed'): void;
}

/** The switch listener's onSocket when rooms span replicas. */
export function handOff(socket: Socket, o: HandoffOptions): void {
  const parts: Buffer[] = [];
  let size = 0;
  const onData = (b: Buffer): void => {
    parts.push(b);
    size += b.length;
    const read = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    const where = firstRequestOwner(read, o.ordinal);
    if (where === 'more') return;
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
    if (where === 'here') {
      o.counted?.('here');
      socket.unshift(read);
      o.adopt(socket);
      socket.resume();
      return;
    }
    splice(socket, read, where, o);
  };
  const onClose = (): void => {
    socket.off('data', onData);
  };
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.on('error', () => undefined);
}

function splice(client: Socket, read: Buffer, owner: number, o: HandoffOptions): void {
  const peer = `${client.remoteAddress ?? ''}:${client.remotePort ?? 0}`;
  o.connect(owner).then((upstream) => {
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    o.log.debug({ peer, owner }, 'MSRP connection passed to the room\'s owner replica');
    o.counted?.('spliced');
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    // The listener's idle timeout closes connections that carry no participant here; this
    // one's participants are on the owner replica, which judges it: no idle timer here.
    client.setTimeout(0);
    const both = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', both);
    upstream.once('close', both);
    client.on('error', both);
    upstream.on('error', both);
    upstream.write(read);
    client.pipe(upstream);
    upstream.pipe(client);
  }, (err: unknown) => {
    o.log.warn({ peer, owner, err: (err as Error).message }, 'the room\'s owner replica is not reachable: MSRP connection closed');
    o.counted?.('failed');
    client.destroy();
  });
}
