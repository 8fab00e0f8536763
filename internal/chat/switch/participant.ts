// Participants of a room: a Member is one participant URI (from the SIP dialog); a Device
// is one MSRP session of that member (one SIP dialog, one a=path), so a person can be in
// the room from a phone and a laptop at once. Every device has its own session URI at the
// focus (what the SDP answer's a=path names) and its own path back.
import { formatByteRange } from '../../msrp/chunker.ts';
import { formatListAdmits, type ContentType } from '../../msrp/headers.ts';
import { endLine, serializeHead } from '../../msrp/serializer.ts';
import { newMessageId, newTransactionId } from '../../msrp/transaction.ts';
import type { Connection } from '../../transport/connection.ts';
import type { InboundMessage } from './fanout.ts';
import type { Outbox } from './outbox.ts';
import type { FileUpload, Room } from './room.ts';

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = Math.max(burst, 1);
    this.#tokens = this.#burst;
    this.#last = now;
  }

  /** Takes `n` (may go negative); ms until the bucket is back to zero, 0 when not in deficit. */
  take(n: number, now: number): number {
    if (this.#rate <= 0) return 0;
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.#rate);
  }
}

export class Member {
  readonly key: string;
  readonly sipUri: string;
  displayName: string | undefined;
  readonly devices = new Map<string, Device>();
  readonly joinedAt = new Date();
  readonly messages: TokenBucket;
  readonly bytes: TokenBucket;

  constructor(key: string, sipUri: string, displayName: string | undefined, limits: { messagesPerSec: number; messageBurst: number; bytesPerSec: number; byteBurst: number }) {
    this.key = key;
    this.sipUri = sipUri;
    this.displayName = displayName;
    const now = performance.now();
    this.messages = new TokenBucket(limits.messagesPerSec, limits.messageBurst, now);
    this.bytes = new TokenBucket(limits.bytesPerSec, limits.byteBurst, now);
  }
}

export interface DeviceInit {
  readonly id: string;
  readonly localUri: string;
  readonly remotePath: readonly string[];
  readonly acceptTypes: readonly string[];
  /** The offer's a=accept-wrapped-types; undefined when the admission did not say (no restriction). */
  readonly acceptWrappedTypes?: readonly string[];
  readonly acceptsPrivate: boolean;
  readonly deviceId: string | undefined;
  readonly upload?: FileUpload | undefined;
}

export class Device {
  /** Session id of our URI for this device: the participantId of the API. */
  readonly id: string;
  /** Our session URI for this device (SDP answer a=path, From-Path of what we send). */
  readonly localUri: string;
  /** The device's a=path: To-Path of what we send, first hop first (RFC 4975 §8.2); a re-INVITE may change it (setRemotePath). */
  remotePath: readonly string[];
  readonly acceptTypes: readonly string[];
  readonly acceptWrappedTypes: readonly string[] | undefined;
  /** RFC 7701 §8: the device's a=chatroom listed "private-messages". */
  readonly acceptsPrivate: boolean;
  readonly deviceId: string | undefined;
  /** An RFC 5547 file session (only sends; its file goes to the room wrapped in CPIM). */
  readonly upload: FileUpload | undefined;
  readonly member: Member;
  readonly room: Room;
  readonly joinedAt = new Date();
  outbox: Outbox;
  connection: Connection | undefined;
  removed = false;
  /** Messages this device is sending, between their first and last chunk, by Message-ID. */
  readonly incoming = new Map<string, InboundMessage>();
  connectTimer: NodeJS.Timeout | undefined;
  #paths = '';
  /** True when every wrapped type is welcome ("*" or no a=accept-wrapped-types known): the fan-out's fast path. */
  readonly #takesAnyWrapped: boolean;
  // Accounting (docs/relay.md "Accounting"): body bytes and complete messages from this
  // device and delivered to it, counted where the fan-out already handles each chunk.
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;

  constructor(init: DeviceInit, member: Member, room: Room, outbox: Outbox) {
    this.id = init.id;
    this.localUri = init.localUri;
    this.remotePath = init.remotePath;
    this.acceptTypes = init.acceptTypes;
    this.acceptWrappedTypes = init.acceptWrappedTypes;
    this.#takesAnyWrapped = init.acceptWrappedTypes === undefined || init.acceptWrappedTypes.includes('*') || init.acceptTypes.includes('*');
    this.acceptsPrivate = init.acceptsPrivate;
    this.deviceId = init.deviceId;
    this.upload = init.upload;
    this.member = member;
    this.room = room;
    this.outbox = outbox;
    this.setRemotePath(init.remotePath);
  }

  /** The device's path (at admission, or changed by a re-INVITE, RFC 4975 §8.4). */
  setRemotePath(path: readonly string[]): void {
    // Validated like serializeHead would, once: To-Path is the device's path, From-Path our URI.
    this.#paths = serializeHead({ kind: 'request', method: 'SEND', transactionId: 'xxxx', toPath: path, fromPath: [this.localUri], headers: [] }, false)
      .toString('latin1').replace(/^[^\n]*\n/, '');
    this.remotePath = path;
  }

  /**
   * RFC 4975 §8.6: "An MSRP endpoint MUST NOT send content of a type not signaled by the peer
   * in either an accept-types or an accept-wrapped-types attribute": may a CPIM message whose
   * own Content-Type is `wrapped` (parsed once per message by the fan-out) go to this device?
   * undefined, a message without one or with one that does not parse, is not held back (the
   * switch forwards what it cannot classify).
   */
  takesWrapped(wrapped: Pick<ContentType, 'type' | 'subtype'> | undefined): boolean {
    if (this.#takesAnyWrapped || wrapped === undefined) return true;
    const { type, subtype } = wrapped;
    return formatListAdmits(this.acceptTypes, type, subtype) || formatListAdmits(this.acceptWrappedTypes ?? [], type, subtype);
  }

  /**
   * The head of a SEND from the focus to this device: its path, our URI, the given
   * Message-ID and Byte-Range. Failure-Report "partial" (RFC 4975 §7.1.1): the device only
   * answers when something is wrong, which halves the frames a busy room costs.
   */
  sendHead(messageId: string, byteRange: string, hasBody: boolean): { head: Buffer; transactionId: string } {
    const transactionId = newTransactionId();
    // Built by hand on the fan-out hot path (serializeHead re-validates every path URI of
    // every frame); the paths were checked once at admission and the values here are ours.
    const text = `MSRP ${transactionId} SEND\r\n${this.#paths}Message-ID: ${messageId}\r\nByte-Range: ${byteRange}\r\nFailure-Report: partial\r\n${hasBody ? 'Content-Type: message/cpim\r\n\r\n' : ''}`;
    return { head: Buffer.from(text, 'latin1'), transactionId };
  }

  /** A complete message/cpim from the focus (notices, history, welcome) in one chunk. */
  deliver(cpim: Buffer): void {
    if (this.removed) return;
    const { head, transactionId } = this.sendHead(newMessageId(), formatByteRange({ start: 1, end: cpim.length, total: cpim.length }), cpim.length > 0);
    this.bytesOut += cpim.length;
    this.messagesOut++;
    this.outbox.write(cpim.length > 0 ? [head, cpim, endLine(transactionId, '$', true)] : [head, endLine(transactionId, '$', false)]);
  }
}
