// ChatRoom reconciler: the room lives in its relay's database, written through the relay's
// admin API (PUT is declarative and idempotent, so a repeat is harmless). A finalizer
// keeps the ChatRoom until the room is deleted there.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../telemetry/logger.ts';
import type { ChatRoom, ChatRoomStatus } from './api/chatroom.ts';
import type { MsrpRelay } from './api/msrprelay.ts';
import { AdminRejectedError, AdminTokenMissingError, AdminUnreachableError } from './admin-client.ts';
import type { AdminClient, AdminRoom } from './admin-client.ts';
import { relayAdminTarget, type RelayTokenSource } from './admin-token.ts';
import { conditionChanged, findCondition, mergeConditions, nowTime } from './conditions.ts';
import type { ConditionInput } from './conditions.ts';
import type { EventRecorder } from './events.ts';
import type { KubeClient } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import type { Cache, ReconcileResult } from './reconcile.ts';
import { splitKey } from './reconcile.ts';
import { FIELD_MANAGER } from './render/common.ts';

export const ROOM_FINALIZER = 'msrp.dev/room-cleanup';

export interface RoomControllerDeps {
  client: KubeClient;
  rooms: Cache<ChatRoom>;
  relays: Cache<MsrpRelay>;
  admin: AdminClient;
  /** The bearer token for a relay's admin API (by default its `<relay>-admin-token` Secret). */
  tokens: RelayTokenSource;
  /** `{name}`/`{namespace}` of the MsrpRelay, e.g. `https://{name}-admin.{namespace}.svc:8080`. */
  adminUrlTemplate: string;
  /** The CA bundle a relay's admin API certificate chains to (its `<relay>-admin-tls` Secret's ca.crt), when known. */
  adminCa?: (relay: MsrpRelay) => Promise<string | undefined>;
  /** Refresh the participant count this often. */
  statusIntervalMs: number;
  events: EventRecorder;
  logger: Logger;
}

/** The room's local name on the relay: spec.name, the user part of spec.uri, or metadata.name. */
export function roomName(room: ChatRoom): string {
  if (room.spec.name) return room.spec.name;
  const user = room.spec.uri ? /^sips?:([^@]+)@/.exec(room.spec.uri)?.[1] : undefined;
  return user ?? room.metadata.name;
}

export function roomUri(room: ChatRoom, relay: MsrpRelay): string {
  return room.spec.uri ?? `sips:${roomName(room)}@${relay.spec.chat.domain ?? relay.spec.publicHost}`;
}

/** The body of PUT /v1/rooms/{name}: the full desired room (no generation: the admin keeps its own). */
export function renderAdminRoom(room: ChatRoom, relay: MsrpRelay): AdminRoom {
  return {
    uri: roomUri(room, relay),
    ...(room.spec.subject !== undefined ? { subject: room.spec.subject } : {}),
    policy: room.spec.policy,
  };
}

export function createRoomReconciler(deps: RoomControllerDeps): (key: string) => Promise<ReconcileResult> {
  const { client, rooms, relays, admin, events, tokens } = deps;

  async function setFinalizers(room: ChatRoom, finalizers: string[]): Promise<void> {
    // resourceVersion makes this a compare-and-swap: a concurrent change gets 409 and a retry.
    await client.mergePatch(RESOURCES.chatRoom, room.metadata.namespace, room.metadata.name, {
      metadata: { finalizers, resourceVersion: room.metadata.resourceVersion },
    });
  }

  async function writeStatus(room: ChatRoom, wanted: ConditionInput, extra: Omit<ChatRoomStatus, 'conditions' | 'observedGeneration'>): Promise<void> {
    const generation = room.metadata.generation;
    const status: ChatRoomStatus = {
      observedGeneration: generation,
      conditions: mergeConditions(room.status?.conditions, [wanted], generation, nowTime()),
      ...extra,
    };
    if (isDeepStrictEqual(room.status ?? {}, status)) return;
    await client.apply(
      RESOURCES.chatRoom,
      { apiVersion: room.apiVersion, kind: room.kind, metadata: { name: room.metadata.name, namespace: room.metadata.namespace }, status },
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    );
    const before = findCondition(room.status?.conditions, 'Ready');
    const after = findCondition(status.conditions, 'Ready');
    if (after && conditionChanged(before, after)) {
      events.record(room, after.status === 'True' ? 'Normal' : 'Warning', after.reason, 'SyncRoom', after.message);
    }
  }

  return async function reconcileRoom(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const room = rooms.get(name, namespace);
    if (!room) return {};
    const log = deps.logger.child({ room: key });
    const relay = relays.get(room.spec.relayRef.name, namespace);
    const finalizers = room.metadata.finalizers ?? [];
    const adminCa = relay === undefined ? undefined : await deps.adminCa?.(relay);
    const baseUrl = relay ? relayAdminTarget(deps.adminUrlTemplate, relay, adminCa) : undefined;

    if (room.metadata.deletionTimestamp) {
      if (!finalizers.includes(ROOM_FINALIZER)) return {};
      if (relay && baseUrl && !relay.metadata.deletionTimestamp) {
        try {
          const deleted = await admin.deleteRoom(baseUrl, await tokens(relay), roomName(room));
          log.info({ deleted }, 'room removed from the relay');
        } catch (e) {
          if (e instanceof AdminTokenMissingError) {
            await writeStatus(room, { type: 'Ready', status: 'False', reason: 'AdminTokenMissing', message: `cannot delete the room: ${e.message}` }, {
              ...(room.status?.uri ? { uri: room.status.uri } : {}),
            });
            return { retry: true };
          }
          if (!(e instanceof AdminUnreachableError)) throw e;
          await writeStatus(room, { type: 'Ready', status: 'False', reason: 'AdminUnreachable', message: `cannot delete the room: ${e.message}` }, {
            ...(room.status?.uri ? { uri: room.status.uri } : {}),
          });
          return { retry: true };
        }
      } else {
        // Its relay is gone (or going): nobody is left to ask, and waiting would keep the
        // ChatRoom forever. Its rows go with the relay's database, or stay in a shared one.
        log.warn({ relay: room.spec.relayRef.name }, 'relay gone; dropping the finalizer without deleting the room');
        events.record(room, 'Warning', 'RelayGone', 'DeleteRoom', `MsrpRelay "${room.spec.relayRef.name}" not found; room not removed from it`);
      }
      await setFinalizers(room, finalizers.filter((f) => f !== ROOM_FINALIZER));
      return {};
    }

    if (!finalizers.includes(ROOM_FINALIZER)) {
      // The update event that follows brings the key back with the new resourceVersion.
      await setFinalizers(room, [...finalizers, ROOM_FINALIZER]);
      return {};
    }

    if (!relay || !baseUrl) {
      await writeStatus(room, {
        type: 'Ready',
        status: 'False',
        reason: 'RelayNotFound',
        message: `MsrpRelay "${room.spec.relayRef.name}" not found in namespace ${namespace}`,
      }, {});
      return {}; // the relay's creation enqueues its rooms
    }

    const uri = roomUri(room, relay);
    let token: string;
    try {
      token = await tokens(relay);
    } catch (e) {
      if (!(e instanceof AdminTokenMissingError)) throw e;
      log.warn({ err: e.message }, 'no admin token for the relay');
      await writeStatus(room, { type: 'Ready', status: 'False', reason: 'AdminTokenMissing', message: e.message }, { uri });
      return { retry: true }; // backoff; the Secret's creation also enqueues the room (manager.ts)
    }
    try {
      const stored = await admin.putRoom(baseUrl, token, roomName(room), renderAdminRoom(room, relay));
      log.debug({ generation: stored.generation }, 'room synced');
      // The room is in the relay's database; it is Ready when a relay pod serves it: the
      // admin API's participants view asks the engine of its pod, which answers 404 for a
      // room it does not serve (chat server off) and 503 while it does not answer. The
      // participant count is that same live view.
      let participants: number;
      try {
        participants = await admin.participantCount(baseUrl, token, roomName(room));
      } catch (e) {
        const notServed = e instanceof AdminRejectedError && e.statusCode === 404;
        if (!notServed && !(e instanceof AdminUnreachableError) && !(e instanceof AdminRejectedError && e.statusCode === 503)) throw e;
        log.debug({ err: e.message }, 'room not served yet');
        await writeStatus(room, notServed
          ? { type: 'Ready', status: 'False', reason: 'NotServed', message: `stored, but no pod of MsrpRelay "${relay.metadata.name}" serves it${relay.spec.chat.enabled ? '' : ' (its spec.chat.enabled is false)'}` }
          : { type: 'Ready', status: 'False', reason: 'EngineUnavailable', message: `stored, but no relay engine answered for it: ${e.message}` }, {
          uri,
          ...(room.status?.participants !== undefined ? { participants: room.status.participants } : {}),
        });
        return { requeueAfterMs: deps.statusIntervalMs };
      }
      await writeStatus(room, { type: 'Ready', status: 'True', reason: 'Synced', message: `room is served by MsrpRelay "${relay.metadata.name}"` }, {
        uri,
        participants,
      });
      return { requeueAfterMs: deps.statusIntervalMs };
    } catch (e) {
      if (e instanceof AdminUnreachableError) {
        log.warn({ err: e.message }, 'admin API unreachable');
        await writeStatus(room, { type: 'Ready', status: 'False', reason: 'AdminUnreachable', message: e.message }, { uri });
        return { retry: true };
      }
      if (e instanceof AdminRejectedError) {
        await writeStatus(room, { type: 'Ready', status: 'False', reason: 'AdminRejected', message: e.message }, { uri });
        return { retry: true };
      }
      throw e;
    }
  };
}
