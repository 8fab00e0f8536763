// A room another replica owns, as the focus sees it (docs/chat.md "Several pods"): the
// ChatRoomPort calls become requests to the owner over the mesh channel, and the owner's
// room events arrive on one server-sent event stream per room and replica. Each event
// carries the room's participant list, so participants() stays synchronous (the conference
// event package renders from it). The stream ending means the room is gone for this
// replica: every device is reported left (the focus BYEs its dialogs) and onGone fires.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { MeshChannel } from '../mesh/channel.ts';
import type { AdmitRequest, AdmitResult, ChatRoomPort, LeaveReason, ModeratorRemoval, ParticipantView, RoomEvent } from './focus/chat-port.ts';
import type { RoomEntry } from './focus/directory.ts';

/** What the owner sends on the event stream: the event (absent in the first, the snapshot), the room after it. */
export interface RoomStreamMessage {
  readonly event?: RoomEvent;
  /** In the first message: how often the owner writes when nothing happens. */
  readonly heartbeatMs?: number;
  readonly subject: string;
  readonly participants: ParticipantView[];
}

/**
 * By default the owner writes a comment on every event stream this often (it says how
 * often in the first message); a stream silent for three times that is taken as a dead
 * owner: a pod on a lost node sends no FIN, and TCP keepalive alone would take minutes.
 */
export const HEARTBEAT_MS = 5_000;

export const roomPath = (name: string, action: string): string => `/v1/rooms/${encodeURIComponent(name)}/${action}`;

/** JSON turns dates into strings; the views want them back. */
export function reviveParticipants(list: ParticipantView[]): ParticipantView[] {
  return list.map((p) => ({
    ...p, joinedAt: new Date(p.joinedAt),
    devices: p.devices.map((d) => ({ ...d, joinedAt: new Date(d.joinedAt) })),
  }));
}

function reviveEvent(e: RoomEvent): RoomEvent {
  return e.type === 'joined' ? { ...e, participant: reviveParticipants([e.participant])[0]! } : e;
}

const UNAVAILABLE: AdmitResult = { ok: false, reason: 'unavailable', sipStatus: 503, message: 'the room\'s owner replica is not reachable' };

export class RemoteRoomPort implements ChatRoomPort {
  readonly uri: string;
  readonly owner: number;
  readonly #entry: RoomEntry;
  readonly #channel: MeshChannel;
  readonly #log: Logger;
  #subject = '';
  #participants: ParticipantView[] = [];
  readonly #listeners = new Set<(e: RoomEvent) => void>();
  readonly #goneListeners: (() => void)[] = [];
  #stream: IncomingMessage | undefined;
  #gone = false;
  #admitting = 0;

  private constructor(channel: MeshChannel, owner: number, entry: RoomEntry, log: Logger) {
    this.#channel = channel;
    this.owner = owner;
    this.#entry = entry;
    this.uri = entry.uri;
    this.#log = log.child({ room: entry.name, owner });
  }

  /** Opens the owner's event stream; resolves once its first message (the room as it is) arrived. */
  static async open(channel: MeshChannel, owner: number, entry: RoomEntry, log: Logger): Promise<RemoteRoomPort> {
    const port = new RemoteRoomPort(channel, owner, entry, log);
    const stream = await channel.stream(owner, roomPath(entry.name, 'events'));
    port.#stream = stream;
    await new Promise<void>((resolve, reject) => {
      let first = true;
      let text = '';
      let silenceMs = 3 * HEARTBEAT_MS;
      let silence = setTimeout(() => stream.destroy(), silenceMs);
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        clearTimeout(silence);
        silence = setTimeout(() => stream.destroy(), silenceMs);
        text += chunk;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data === '') continue; // a comment (keep-alive)
          const m = JSON.parse(data) as RoomStreamMessage;
          if (typeof m.heartbeatMs === 'number' && m.heartbeatMs > 0) silenceMs = 3 * m.heartbeatMs;
          port.#apply(m);
          if (first) {
            first = false;
            resolve();
          }
        }
      });
      const ended = (): void => {
        clearTimeout(silence);
        if (first) reject(new Error(`replica ${owner} closed the event stream of ${entry.name}`));
        port.#end();
      };
      stream.once('end', ended);
      stream.once('close', ended);
      stream.once('error', ended);
    });
    return port;
  }

  get subject(): string {
    return this.#subject;
  }

  get gone(): boolean {
    return this.#gone;
  }

  participants(): ParticipantView[] {
    return this.#participants;
  }

  onChange(fn: (e: RoomEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  onGone(fn: () => void): void {
    if (this.#gone) fn();
    else this.#goneListeners.push(fn);
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    this.#admitting++;
    try {
      const r = await this.#channel.call<AdmitResult>(this.owner, 'POST', roomPath(this.#entry.name, 'admit'), request);
      if (r.status === 200) return r.body;
      this.#log.warn({ status: r.status }, 'the owner replica refused an admission: looking for the owner again');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'admission at the owner replica failed');
    } finally {
      // The caller records its call in the same turn as the answer: the sweep sees it next time.
      this.#admitting--;
    }
    this.close();
    return UNAVAILABLE;
  }

  async remove(participantId: string, reason: LeaveReason): Promise<boolean> {
    try {
      const r = await this.#channel.call<{ removed: boolean }>(this.owner, 'POST', roomPath(this.#entry.name, 'remove'), { participantId, reason });
      return r.status === 200 && r.body.removed;
    } catch (err) {
      // The owner is gone: so is the device.
      this.#log.info({ err: (err as Error).message, session: participantId }, 'remove at the owner replica failed');
      return false;
    }
  }

  async reserveSession(): Promise<{ sessionId: string; localUri: string }> {
    const r = await this.#channel.call<{ sessionId: string; localUri: string }>(this.owner, 'POST', roomPath(this.#entry.name, 'reserve'), {});
    if (r.status !== 200) throw new Error(`the owner replica answered ${r.status} to a session reservation`);
    return r.body;
  }

  async repath(participantId: string, remotePath: readonly string[], setup: 'active' | 'passive'): Promise<boolean> {
    try {
      const r = await this.#channel.call<{ moved: boolean }>(this.owner, 'POST', roomPath(this.#entry.name, 'repath'), { participantId, remotePath, setup });
      return r.status === 200 && r.body.moved;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, session: participantId }, 'path change at the owner replica failed');
      return false;
    }
  }

  async removeByModerator(moderatorUri: string, targetUri: string): Promise<ModeratorRemoval> {
    try {
      const r = await this.#channel.call<ModeratorRemoval>(this.owner, 'POST', roomPath(this.#entry.name, 'remove-by-moderator'), { moderator: moderatorUri, target: targetUri });
      if (r.status === 200) return r.body;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'moderator removal at the owner replica failed');
    }
    return { ok: false, status: 503, message: 'the room\'s owner replica is not reachable' };
  }

  /** Nobody here needs the room any more: stop following it quietly (onGone still fires); not while an admission is in flight. */
  release(): boolean {
    if (this.#admitting > 0) return false;
    this.#participants = [];
    this.#listeners.clear();
    this.close();
    return true;
  }

  /** Stops following the owner; the devices are reported left as when the owner dies. */
  close(): void {
    this.#stream?.destroy();
    this.#end(true);
  }

  #apply(m: RoomStreamMessage): void {
    this.#subject = m.subject;
    this.#participants = reviveParticipants(m.participants);
    if (m.event !== undefined) {
      const e = reviveEvent(m.event);
      for (const fn of [...this.#listeners]) fn(e);
    }
  }

  #end(byUs = false): void {
    if (this.#gone) return;
    this.#gone = true;
    const before = this.#participants;
    this.#participants = [];
    // Said apart: a room this replica stops following (nobody here needs it, a status query done)
    // is routine; the owner's stream ending by itself is what an operator looks for.
    if (byUs) this.#log.debug({ participants: before.length }, 'stopped following the owner replica\'s room');
    else this.#log.info({ participants: before.length }, 'lost the owner replica\'s room: its devices leave here');
    for (const p of before) {
      for (const d of p.devices) {
        const e: RoomEvent = { type: 'device-left', participantId: d.participantId, sipUri: p.sipUri, reason: 'room-closed' };
        for (const fn of [...this.#listeners]) fn(e);
      }
    }
    for (const fn of this.#goneListeners.splice(0)) fn();
  }
}
