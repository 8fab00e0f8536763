// One SEND chunk from a participant, switched to the room (RFC 7701 §6) as it arrives.
//
//   first chunk of a message: Content-Type must be message/cpim (else 415) ─ collect body
//   bytes until the CPIM headers are complete (bounded, RFC 3862 §3.1) ─ From must be the
//   sender (else 403) ─ To decides: the room → public, a participant → private (404 / 428 /
//   403), a disposition notification (RFC 5438) → the participant it names, whatever the
//   private-message policy ─ open one SEND per recipient and write what was collected ─ every further body
//   segment is written to every recipient as it comes ─ end-line: same flag to every
//   recipient, 200 to the sender.
//   later chunks (same Message-ID): straight to the recipients chosen by the first chunk.
//
// The CPIM body is never modified (RFC 7701 §6.1: the switch does not change the message;
// recipients see the original From, To and DateTime). The MSRP envelope is the switch's:
// each recipient session gets a new transaction id, its own To-Path/From-Path and a
// Message-ID minted by the switch, one per message, shared by that message's chunks
// (RFC 4975 §7.1.1: the Message-ID is chosen by the sender of each hop-session and must be
// unique in it; the switch is the sender on every recipient's session, and two
// participants' Message-IDs could collide in one recipient's session, which would mix
// their chunks in its reassembly). Byte-Range is copied: the bytes are the same.
//
// Timers: a chunk whose body stops arriving, or a "+" message whose next chunk does not
// come, within the room's chunkTimeoutMs is closed with "#" at every recipient (RFC 4975
// §7.1.1: "#" = the sender aborted the message), and the sender gets 413 for a stalled chunk.
import type { Continuation, MsrpRequest, MsrpRequestHead } from '../../msrp/frame.ts';
import { getHeader } from '../../msrp/frame.ts';
import { CpimHeadScanner, formatCpim, MAX_CPIM_HEAD_BYTES, parseCpim } from '../../msrp/cpim.ts';
import { isDispositionNotification } from '../../msrp/imdn.ts';
import { formatByteRange, interruptibleRange, resumedByteRange } from '../../msrp/chunker.ts';
import { parseByteRange, parseContentType, type ByteRange } from '../../msrp/headers.ts';
import { successReportOf } from '../../msrp/reports.ts';
import { MsrpStatus } from '../../msrp/status.ts';
import { endLine } from '../../msrp/serializer.ts';
import { newMessageId } from '../../msrp/transaction.ts';
import type { Connection } from '../../transport/connection.ts';
import type { OutFrame, Outbox } from './outbox.ts';
import type { Device, Member } from './participant.ts';
import { uriKey } from './policy.ts';
import { ANONYMOUS_URI, type FileUpload, type Room } from './room.ts';

export interface ChunkSink {
  data(segment: Buffer): void;
  end(flag: Continuation): void;
  /** The sender's connection went away or its frame broke mid-chunk. */
  abort(): void;
}

/** What a chunk needs from the switch. */
export interface FanoutHost {
  /** Answers the chunk's transaction (RFC 4975 §7.2; Failure-Report decides whether). */
  respond(conn: Connection, head: MsrpRequestHead, status: number, comment?: string): void;
  /** Success REPORT for a complete message when the sender asked (RFC 4975 §7.1.2). */
  successReport(conn: Connection, device: Device, head: MsrpRequestHead, total: number): void;
  /** Flood control: accounts a message / body bytes of `member`, pausing `conn` when over the rate. */
  account(member: Member, conn: Connection, messages: number, bytes: number): void;
  /** A message or chunk went to `n` recipients (metrics, tests, bench). */
  delivered?(n: number): void;
  /** A disposition notification (RFC 5438) from `from` is routed to `to` (logs, tests). */
  notification?(from: Member, to: Member): void;
}

/** A message being received from one device, between its first and its last chunk. */
export interface InboundMessage {
  readonly messageId: string;
  readonly outMessageId: string;
  readonly recipients: readonly Device[];
  readonly isPublic: boolean;
  /** Body bytes kept for history while the message is small enough; undefined once not kept. */
  history: Buffer[] | undefined;
  historyBytes: number;
  /** Next expected range-start (the sender's numbering). */
  next: number;
  /** Total as the recipients see it (offset included). */
  total: number | '*';
  /**
   * Bytes the switch put in front of the sender's body: the CPIM headers it wraps an RFC 5547
   * file session's raw file in; 0 for CPIM messages, which go through unchanged.
   */
  offset: number;
  timer: NodeJS.Timeout | undefined;
}

const ISCOMPOSING = /^application\/im-iscomposing\+xml\b/i;

function isCpim(contentType: string): boolean {
  const ct = parseContentType(contentType);
  return ct.ok && ct.value.type === 'message' && ct.value.subtype === 'cpim';
}

/** Sends an empty "#" chunk for an unfinished message to its recipients and forgets it. */
export function abortMessage(sender: Device, msg: InboundMessage): void {
  clearTimeout(msg.timer);
  sender.incoming.delete(msg.messageId);
  for (const r of msg.recipients) {
    if (r.removed) continue;
    const next = msg.next + msg.offset;
    const { head, transactionId } = r.sendHead(msg.outMessageId, `${next}-${next - 1}/${msg.total}`, false);
    const f = r.outbox.open(head, transactionId, false);
    r.outbox.end(f, '#');
  }
}

export class SendChunk implements ChunkSink {
  readonly #host: FanoutHost;
  readonly #conn: Connection;
  readonly #device: Device;
  readonly #room: Room;
  readonly #head: MsrpRequestHead;
  readonly #streamed: boolean;
  readonly #wholeLength: number | undefined;
  #state: 'collect' | 'forward' | 'empty' | 'discard' | 'done' = 'collect';
  #status = 200;
  #comment: string | undefined;
  #collected: Buffer[] = [];
  #collectedLen = 0;
  /** Set while collecting: finds the end of the CPIM head without re-reading what came before. */
  #headScan: CpimHeadScanner | undefined;
  #frames: { outbox: Outbox; frame: OutFrame; device: Device }[] = [];
  /** The body of a chunk received whole, written with its head and end-line at once. */
  #body: Buffer[] = [];
  #msg: InboundMessage | undefined;
  #messageId: string | undefined;
  #start = 1;
  #end: number | '*' = '*';
  #total: number | '*' = '*';
  #bytes = 0;
  #stall: NodeJS.Timeout | undefined;

  /** `wholeLength` is the body length of a frame received whole; undefined when streamed. */
  constructor(host: FanoutHost, conn: Connection, device: Device, head: MsrpRequestHead, wholeLength?: number) {
    this.#host = host;
    this.#conn = conn;
    this.#device = device;
    this.#room = device.room;
    this.#head = head;
    this.#streamed = wholeLength === undefined;
    this.#wholeLength = wholeLength;
    this.#open(head, conn, device, wholeLength);
  }

  #open(head: MsrpRequestHead, conn: Connection, device: Device, wholeLength: number | undefined): void {
    const hasBody = wholeLength === undefined || wholeLength > 0;
    this.#messageId = getHeader(head, 'Message-ID');
    const rangeText = getHeader(head, 'Byte-Range');
    const range = rangeText === undefined ? undefined : parseByteRange(rangeText);
    if (range !== undefined && !range.ok) return this.#discard(MsrpStatus.BAD_REQUEST, 'bad Byte-Range');
    this.#start = range?.value.start ?? 1;
    this.#end = range?.value.end ?? wholeLength ?? '*';
    this.#total = range?.value.total ?? wholeLength ?? '*';
    if (this.#messageId === undefined) {
      // RFC 4975 §7.1.1: an empty SEND (no body) may open the connection; anything else needs a Message-ID.
      if (hasBody) return this.#discard(MsrpStatus.BAD_REQUEST, 'SEND without Message-ID');
      this.#state = 'empty';
      return;
    }
    const existing = device.incoming.get(this.#messageId);
    if (existing !== undefined) {
      clearTimeout(existing.timer);
      existing.timer = undefined;
      this.#msg = existing;
      this.#openFrames(hasBody);
      this.#state = 'forward';
      this.#armStall();
      return;
    }
    const ct = getHeader(head, 'Content-Type');
    if (!hasBody) {
      this.#state = 'empty';
      return;
    }
    const cpim = ct !== undefined && isCpim(ct);
    if (device.upload !== undefined && !cpim) return this.#openUpload(conn, device, device.upload);
    // RFC 7701 §6: messages in a chat room are wrapped in message/cpim so the switch can
    // see who sent them and to whom; RFC 4975 §7.3: 415 for media the receiver does not take.
    if (!cpim) return this.#discard(MsrpStatus.UNSUPPORTED_MEDIA_TYPE, 'chat rooms take message/cpim only');
    if (this.#start !== 1) return this.#discard(MsrpStatus.BAD_REQUEST, 'the first chunk of a message must come first');
    this.#host.account(device.member, conn, 1, 0);
    this.#headScan = new CpimHeadScanner();
    this.#armStall();
  }

  /**
   * The first chunk of a file from an RFC 5547 file session: the raw file goes to the room as
   * a CPIM message from the sender (what clients send as a chunked CPIM file today), its
   * CPIM headers written in front of the body; the body slices pass through uncopied.
   */
  #openUpload(conn: Connection, device: Device, upload: FileUpload): void {
    if (this.#start !== 1) return this.#discard(MsrpStatus.BAD_REQUEST, 'the first chunk of a file must come first');
    const room = this.#room;
    const prefix = formatCpim({
      from: { uri: device.member.sipUri }, to: [{ uri: room.uri }], dateTime: new Date(), contentType: upload.type,
      contentHeaders: upload.name === undefined ? [] : [{ name: 'Content-Disposition', value: `attachment; filename="${upload.name.replace(/[\x00-\x1f"\\]/g, '_')}"` }],
      content: Buffer.alloc(0),
    });
    this.#host.account(device.member, conn, 1, 0);
    const msg: InboundMessage = {
      messageId: this.#messageId!, outMessageId: newMessageId(), recipients: room.devices(undefined, device), isPublic: true,
      history: undefined, historyBytes: 0, next: 1, total: this.#total === '*' ? '*' : this.#total + prefix.length, timer: undefined, offset: prefix.length,
    };
    this.#msg = msg;
    device.incoming.set(msg.messageId, msg);
    this.#openFrames(true);
    this.#state = 'forward';
    if (!this.#streamed) this.#body.push(prefix);
    for (const { outbox, frame } of this.#frames) outbox.data(frame, prefix);
    this.#armStall();
  }

  data(segment: Buffer): void {
    if (segment.length === 0) return;
    this.#bytes += segment.length;
    if (this.#state === 'discard' || this.#state === 'done') return;
    this.#device.bytesIn += segment.length;
    this.#host.account(this.#device.member, this.#conn, 0, segment.length);
    if (this.#state === 'collect') {
      this.#collected.push(segment);
      this.#collectedLen += segment.length;
      // The segments are joined once, when the head is complete (or the chunk ends).
      if (this.#headScan!.push(segment)) this.#decide(this.#collectedBody());
      else if (this.#collectedLen > MAX_CPIM_HEAD_BYTES) this.#discard(MsrpStatus.STOP_SENDING, 'CPIM headers too large');
      else this.#armStall();
      return;
    }
    if (this.#state === 'forward') {
      if (!this.#streamed) this.#body.push(segment);
      for (const { outbox, frame } of this.#frames) outbox.data(frame, segment);
      this.#keep(segment);
      this.#armStall();
    }
  }

  end(flag: Continuation): void {
    clearTimeout(this.#stall);
    if (this.#state === 'collect') {
      if (this.#collectedLen > 0) this.#decide(this.#collectedBody());
      else this.#discard(MsrpStatus.BAD_REQUEST, 'empty message');
    }
    const state = this.#state;
    this.#state = 'done';
    if (state === 'empty') {
      this.#host.respond(this.#conn, this.#head, MsrpStatus.OK);
      return;
    }
    if (state === 'discard') {
      if (this.#status !== 0) this.#host.respond(this.#conn, this.#head, this.#status, this.#comment);
      return;
    }
    if (state !== 'forward') return;
    const msg = this.#msg!;
    if (flag === '$') this.#device.messagesIn++;
    if (this.#streamed) {
      for (const f of this.#frames) {
        f.outbox.end(f.frame, flag);
        f.device.bytesOut += this.#bytes;
        if (flag === '$') f.device.messagesOut++;
      }
      this.#host.delivered?.(this.#frames.length);
      this.#frames = [];
    } else {
      this.#writeWhole(msg, flag);
    }
    msg.next = this.#start + this.#bytes;
    this.#host.respond(this.#conn, this.#head, MsrpStatus.OK);
    if (flag === '+') {
      const sender = this.#device;
      msg.timer = setTimeout(() => abortMessage(sender, msg), this.#room.policy.chunkTimeoutMs);
      msg.timer.unref();
      return;
    }
    this.#device.incoming.delete(msg.messageId);
    if (flag !== '$') return;
    if (successReportOf(this.#head) === 'yes') this.#host.successReport(this.#conn, this.#device, this.#head, msg.next - 1);
    if (msg.history !== undefined) {
      this.#room.remember({ cpim: Buffer.concat(msg.history), from: this.#device.member.sipUri, at: new Date() });
    }
  }

  abort(): void {
    clearTimeout(this.#stall);
    if (this.#state === 'forward') {
      for (const { outbox, frame } of this.#frames) outbox.end(frame, '#');
      this.#frames = [];
      if (this.#msg !== undefined) {
        clearTimeout(this.#msg.timer);
        this.#device.incoming.delete(this.#msg.messageId);
      }
    }
    this.#state = 'done';
  }

  #armStall(): void {
    if (!this.#streamed) return;
    clearTimeout(this.#stall);
    this.#stall = setTimeout(() => {
      if (this.#state !== 'forward' && this.#state !== 'collect') return;
      this.abort();
      // RFC 4975 §7.1.1: 413 tells the sender to stop sending this message; it may come before the end-line.
      this.#host.respond(this.#conn, this.#head, MsrpStatus.STOP_SENDING, 'chunk stalled');
      this.#state = 'discard';
      this.#status = 0;
    }, this.#room.policy.chunkTimeoutMs);
    this.#stall.unref();
  }

  #discard(status: number, comment: string): void {
    clearTimeout(this.#stall);
    this.#state = 'discard';
    this.#status = status;
    this.#comment = comment;
    this.#collected = [];
    this.#headScan = undefined;
  }

  #collectedBody(): Buffer {
    return this.#collected.length === 1 ? this.#collected[0]! : Buffer.concat(this.#collected, this.#collectedLen);
  }

  /** The CPIM headers are in: check the sender, pick the recipients, start forwarding. */
  #decide(body: Buffer): void {
    // Lenient: accept the RFC 7701 §9 form without the blank line before Content-Type; the
    // bytes are forwarded as they are either way.
    const parsed = parseCpim(body, { lenient: true });
    if (!parsed.ok) return this.#discard(parsed.error.status, parsed.error.message);
    const cpim = parsed.message;
    const sender = this.#device.member;
    const room = this.#room;
    // RFC 7701 §6.1 / §6.2: the CPIM From must be the participant's URI (no spoofing others).
    if (cpim.from === undefined || uriKey(cpim.from.uri) !== sender.key) {
      return this.#discard(MsrpStatus.FORBIDDEN, 'CPIM From is not your URI');
    }
    const targets = cpim.to.filter((a) => {
      const k = uriKey(a.uri);
      return k !== room.key && k !== uriKey(ANONYMOUS_URI);
    });
    // A disposition notification (RFC 5438, message/imdn+xml) answers a message the
    // recipient got from the room.
    const notification = isDispositionNotification(cpim);
    let recipients: Device[];
    let isPublic = true;
    if (targets.length === 0) {
      // RFC 7701 §6.1: To is the room URI; RCS clients write sip:anonymous@anonymous.invalid.
      recipients = room.devices(undefined, this.#device);
    } else {
      isPublic = false;
      const p = room.policy;
      // A notification goes back to the sender of the message it answers, named in its CPIM
      // To. It is not a private message between participants, so neither the room's
      // private-message policy nor the sender's a=chatroom (RFC 7701 §8) applies to it.
      if (!notification && !p.privateMessages) return this.#discard(MsrpStatus.FORBIDDEN, 'private messages are disabled in this room');
      if (targets.length > 1 || cpim.to.length > 1) return this.#discard(MsrpStatus.FORBIDDEN, 'a private message has exactly one recipient');
      const to = targets[0]!;
      // A participant URI, or (beyond RFC 7701) a nickname written as the display name.
      const target = room.member({ uri: to.uri, ...(to.displayName === undefined ? {} : { nickname: to.displayName }) });
      // RFC 7701 §6.2: 404 when the recipient is not in the room (for a notification: the
      // message's sender left).
      if (target === undefined) return this.#discard(MsrpStatus.NOT_FOUND, notification ? 'the notified participant is not in the room' : 'no such participant in the room');
      recipients = [...target.devices.values()].filter((d) => (notification || d.acceptsPrivate) && d !== this.#device && !d.removed && d.upload === undefined);
      if (notification) {
        if (recipients.length === 0) return this.#discard(MsrpStatus.NOT_FOUND, 'the notified participant has no other device in the room');
        this.#host.notification?.(this.#device.member, target);
      }
      // RFC 7701 §6.2 / §8: 428 when private messages cannot be delivered; here because the
      // recipient's a=chatroom did not list "private-messages".
      if (recipients.length === 0) return this.#discard(MsrpStatus.PRIVATE_MESSAGES_NOT_SUPPORTED, 'the recipient does not take private messages');
    }
    // RFC 4975 §8.6: a device gets only the wrapped types its offer signalled (accept-types or
    // accept-wrapped-types); the others of a public message skip it, a private one is refused.
    const ct = cpim.contentType === undefined ? undefined : parseContentType(cpim.contentType);
    const wrapped = ct?.ok === true ? ct.value : undefined;
    if (recipients.some((d) => !d.takesWrapped(wrapped))) {
      recipients = recipients.filter((d) => d.takesWrapped(wrapped));
      if (!isPublic && recipients.length === 0) return this.#discard(MsrpStatus.UNSUPPORTED_MEDIA_TYPE, 'the recipient does not accept this content type');
    }
    const composing = cpim.contentType !== undefined && ISCOMPOSING.test(cpim.contentType);
    const total = this.#total;
    // Neither typing indications nor disposition notifications (one addressed to the room,
    // which goes to everyone since it names no one) are conversation to replay.
    const keep = isPublic && !composing && !notification && (total === '*' || total <= room.policy.historyMaxMessageBytes) && room.policy.historySize > 0;
    const msg: InboundMessage = {
      messageId: this.#messageId!, outMessageId: newMessageId(), recipients, isPublic,
      history: keep ? [] : undefined, historyBytes: 0, next: 1, total, timer: undefined, offset: 0,
    };
    this.#msg = msg;
    this.#device.incoming.set(msg.messageId, msg);
    this.#openFrames(true);
    this.#state = 'forward';
    this.#collected = [];
    this.#headScan = undefined;
    if (!this.#streamed) this.#body.push(body);
    for (const { outbox, frame } of this.#frames) outbox.data(frame, body);
    this.#keep(body);
    this.#armStall();
  }

  #openFrames(hasBody: boolean): void {
    // A chunk that arrived whole is written whole at its end (one writev per recipient);
    // only streamed chunks hold a recipient's connection while their body arrives.
    if (!this.#streamed) return;
    const msg = this.#msg!;
    const range = this.#outRange(msg);
    // A large chunk (or one of unknown length) may be interrupted at a recipient to let
    // other frames by (outbox.ts, RFC 4975 §7.1.1); its rest goes out under the same
    // Message-ID with the Byte-Range moved on by what was written.
    const announced = this.#outByteRange(msg);
    const large = hasBody && interruptibleRange(announced);
    for (const r of msg.recipients) {
      if (r.removed) continue;
      const { head, transactionId } = r.sendHead(msg.outMessageId, range, hasBody);
      const resume = large ? (written: number) => r.sendHead(msg.outMessageId, resumedByteRange(announced, written), true) : undefined;
      this.#frames.push({ outbox: r.outbox, frame: r.outbox.open(head, transactionId, hasBody, resume), device: r });
    }
  }

  /** The chunk's Byte-Range as its recipients see it: the sender's, moved on by msg.offset. */
  #outByteRange(msg: InboundMessage): ByteRange {
    const off = msg.offset;
    const end = this.#end;
    // The first chunk carries the bytes put in front, so it still starts at 1.
    return { start: this.#start === 1 ? 1 : this.#start + off, end: end === '*' ? '*' : end + off, total: msg.total };
  }

  #outRange(msg: InboundMessage): string {
    if (msg.offset !== 0) return formatByteRange(this.#outByteRange(msg));
    return getHeader(this.#head, 'Byte-Range') ?? (this.#wholeLength !== undefined ? `1-${this.#wholeLength}/${this.#wholeLength}` : '1-*/*');
  }

  #writeWhole(msg: InboundMessage, flag: Continuation): void {
    const range = this.#outRange(msg);
    const hasBody = this.#bytes > 0;
    const body = this.#body;
    let n = 0;
    for (const r of msg.recipients) {
      if (r.removed) continue;
      const { head, transactionId } = r.sendHead(msg.outMessageId, range, hasBody);
      r.outbox.write([head, ...body, endLine(transactionId, flag, hasBody)]);
      r.bytesOut += this.#bytes;
      if (flag === '$') r.messagesOut++;
      n++;
    }
    this.#body = [];
    this.#host.delivered?.(n);
  }

  #keep(segment: Buffer): void {
    const msg = this.#msg!;
    if (msg.history === undefined) return;
    msg.historyBytes += segment.length;
    if (msg.historyBytes > this.#room.policy.historyMaxMessageBytes) msg.history = undefined;
    else msg.history.push(segment);
  }
}

/** Used by the switch for whole frames (bodies below the streaming threshold). */
export function wholeChunk(host: FanoutHost, conn: Connection, device: Device, frame: MsrpRequest): void {
  let n = 0;
  for (const b of frame.body) n += b.length;
  const sink = new SendChunk(host, conn, device, frame, n);
  for (const b of frame.body) sink.data(b);
  sink.end(frame.continuation);
}
