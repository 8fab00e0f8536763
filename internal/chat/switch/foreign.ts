// Requests on a switch connection for sessions another replica owns (several replicas,
// docs/chat.md "Several pods"), one frame at a time. A participant's own connection is
// spliced whole to its room's owner by the listener (chat/msrp-handoff.ts), but a relay
// keeps one connection to the switch for all its clients (RFC 4976 §6.4 pools per
// authority), and their rooms can have different owners. So the switch passes each request
// whose To-Path session names another replica (`r<k>-`, docs/architecture.md §4.2) to that
// replica over one upstream per (connection, replica), unchanged, and writes what comes
// back on the upstream (responses, the owner's SENDs to the participants) to the
// connection through its outbox, so frames never interleave. Responses from the connection
// to the owner's requests go the same way by their To-Path. The owner's switch sees the
// upstream as the participants' connection: it binds their sessions to it (RFC 4975 §5.4).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Continuation, MsrpFrame, MsrpHead, MsrpRequestHead, MsrpResponse } from '../../msrp/frame.ts';
import { endLine, serializeHead, toBuffers } from '../../msrp/serializer.ts';
import { parseMsrpUri } from '../../msrp/uri.ts';
import { ownerOf } from '../../mesh/ownership.ts';
import { Connection, nextConnectionId, type FrameHandler } from '../../transport/connection.ts';
import type { ChunkSink } from './fanout.ts';
import type { Outbox } from './outbox.ts';

/** Bytes waiting on an upstream before the connection feeding it stops being read. */
const HIGH_WATER = 1024 * 1024;

export interface ForeignSessionsOptions {
  /** This replica's ordinal: its own sessions are never forwarded. */
  readonly self: number;
  /** A raw byte pipe to replica `owner`'s switch (the mesh channel's Upgrade). */
  open(owner: number): Promise<Socket>;
  readonly log: Logger;
}

/** What the switch gives the router per connection. */
export interface ForeignHost {
  outboxOf(conn: Connection): Outbox;
  /** Answers a request the router could not pass on (owner unreachable). */
  respond(conn: Connection, head: MsrpRequestHead, status: number, comment?: string): void;
}

interface Upstream {
  conn: Connection | undefined;
  /** Written before the upstream was up. */
  pending: Buffer[];
  failed: boolean;
}

export class ForeignSessions {
  readonly #o: ForeignSessionsOptions;
  readonly #up = new Map<Connection, Map<number, Upstream>>();
  #host: ForeignHost | undefined;

  constructor(o: ForeignSessionsOptions) {
    this.#o = o;
  }

  attach(host: ForeignHost): void {
    this.#host = host;
  }

  /** The replica that owns the session of `uri`, when it is another one. */
  ownerOf(uri: string | undefined): number | undefined {
    if (uri === undefined) return undefined;
    const u = parseMsrpUri(uri);
    if (!u.ok || u.uri.sessionId === undefined) return undefined;
    const k = ownerOf(u.uri.sessionId);
    return k === undefined || k === this.#o.self ? undefined : k;
  }

  /** A request for `owner`'s session: head, body and end-line go to the upstream as they come. */
  request(conn: Connection, head: MsrpRequestHead, owner: number): ChunkSink {
    const up = this.#upstream(conn, owner);
    let bodied = false;
    return {
      data: (segment) => {
        if (segment.length === 0) return;
        if (!bodied) {
          bodied = true;
          this.#write(conn, up, serializeHead(head, true));
        }
        this.#write(conn, up, segment);
      },
      end: (flag: Continuation) => {
        if (up.failed) {
          this.#host?.respond(conn, head, 481, 'the session\'s replica is not reachable');
          return;
        }
        this.#write(conn, up, bodied ? endLine(head.transactionId, flag, true) : Buffer.concat([serializeHead(head, false), endLine(head.transactionId, flag, false)]));
      },
      // The sender broke off mid-chunk: so does the copy (RFC 4975 §7.1: '#' ends it).
      abort: () => {
        if (bodied) this.#write(conn, up, endLine(head.transactionId, '#', true));
      },
    };
  }

  /** A response on `conn`: true when it was for another replica's request (and went there). */
  response(conn: Connection, res: MsrpResponse): boolean {
    const owner = this.ownerOf(res.toPath[0]);
    if (owner === undefined) return false;
    const up = this.#up.get(conn)?.get(owner);
    if (up !== undefined && !up.failed) this.#write(conn, up, Buffer.concat(toBuffers(res)));
    return true;
  }

  /** `conn` closed: its upstreams close too (the owner ends the sessions bound to them). */
  closed(conn: Connection): void {
    const ups = this.#up.get(conn);
    this.#up.delete(conn);
    for (const up of ups?.values() ?? []) up.conn?.destroy();
  }

  #upstream(conn: Connection, owner: number): Upstream {
    let ups = this.#up.get(conn);
    if (ups === undefined) this.#up.set(conn, (ups = new Map<number, Upstream>()));
    const known = ups.get(owner);
    if (known !== undefined) return known;
    const up: Upstream = { conn: undefined, pending: [], failed: false };
    ups.set(owner, up);
    this.#o.open(owner).then((socket) => {
      if (conn.closed) {
        socket.destroy();
        return;
      }
      up.conn = new Connection({
        id: nextConnectionId('cf'), socket, direction: 'outbound', handler: this.#back(conn, owner),
        limits: { maxHeaderBytes: 16384, streamThreshold: 64 * 1024 }, maxBufferedBytes: 64 * 1024 * 1024,
        logger: this.#o.log.child({ conn: conn.id, replica: owner }),
      });
      for (const b of up.pending.splice(0)) up.conn.writeBuffers([b]);
    }, (err: unknown) => {
      up.failed = true;
      up.pending = [];
      this.#o.log.warn({ conn: conn.id, replica: owner, err: (err as Error).message }, 'requests for another replica\'s sessions: replica not reachable');
    });
    return up;
  }

  #write(conn: Connection, up: Upstream, b: Buffer): void {
    if (up.failed) return;
    const c = up.conn;
    if (c === undefined) {
      up.pending.push(b);
      return;
    }
    if (c.closed) return;
    c.writeBuffers([b]);
    // Backpressure: the participant (or its relay) waits for the owner, like any sender.
    if (c.socket.writableLength > HIGH_WATER) {
      conn.pause('foreign');
      c.socket.once('drain', () => conn.resume('foreign'));
    }
  }

  /** What the owner sends back on the upstream goes to `conn` through its outbox, frame by frame. */
  #back(conn: Connection, owner: number): FrameHandler {
    const outbox = () => this.#host!.outboxOf(conn);
    let current: ReturnType<Outbox['open']> | undefined;
    return {
      onFrame: (_c, frame: MsrpFrame) => outbox().write(toBuffers(frame)),
      onHead: (_c, head: MsrpHead) => {
        current = outbox().open(serializeHead(head, true), head.transactionId, true);
      },
      onBody: (_c, segment) => {
        if (current !== undefined) outbox().data(current, segment);
      },
      onEnd: (_c, flag) => {
        if (current !== undefined) outbox().end(current, flag);
        current = undefined;
      },
      onParseError: (c, err) => {
        if (err.fatal) c.destroy();
      },
      onClose: () => {
        if (current !== undefined) outbox().end(current, '#');
        current = undefined;
        const ups = this.#up.get(conn);
        if (ups?.get(owner)?.conn !== undefined) ups.delete(owner);
      },
    };
  }
}
