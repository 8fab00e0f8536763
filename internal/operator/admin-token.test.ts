import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../telemetry/logger.ts';
import { AdminClient, AdminTokenMissingError } from './admin-client.ts';
import type { AdminRoom, AdminTarget } from './admin-client.ts';
import { relaySecretTokens } from './admin-token.ts';
import type { ChatRoom } from './api/chatroom.ts';
import type { MsrpRelay } from './api/msrprelay.ts';
import type { EventRecorder } from './events.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import type { Cache } from './reconcile.ts';
import { relayFixture } from './render/testfixtures.ts';
import { createRoomReconciler, ROOM_FINALIZER } from './room-controller.ts';
import type { SecretReader } from './secret-cache.ts';

function cacheOf<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[]): Cache<T> {
  return {
    get: (name, namespace) => items.find((i) => i.metadata?.name === name && (namespace === undefined || i.metadata?.namespace === namespace)),
    list: (namespace) => items.filter((i) => namespace === undefined || i.metadata?.namespace === namespace),
  };
}

/** Secrets as the operator's SecretCache would read them (secret-cache.ts). */
function readerOf(items: KubeObject[]): SecretReader {
  const c = cacheOf(items);
  return { read: (name, namespace) => Promise.resolve(c.get(name, namespace)) };
}

const secret = (name: string, namespace: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

describe('admin token per relay', () => {
  it("reads the relay's own <relay>-admin-token Secret (key token) in the relay's namespace", async () => {
    const tokens = relaySecretTokens(
      readerOf([secret('relay-admin-token', 'other', { token: 'wrong' }), secret('relay-admin-token', 'chat', { token: 'right\n' })]),
      () => Promise.resolve('fallback'),
    );
    assert.equal(await tokens(relayFixture()), 'right');
  });

  it('a missing Secret is AdminTokenMissingError naming it, unless a fallback token was given', async () => {
    const none = relaySecretTokens(readerOf([]));
    await assert.rejects(none(relayFixture()), (e: unknown) => {
      assert.ok(e instanceof AdminTokenMissingError);
      assert.match(e.message, /admin token secret "relay-admin-token" not found in namespace chat/);
      return true;
    });
    const empty = relaySecretTokens(readerOf([secret('relay-admin-token', 'chat', { other: 'x' })]));
    await assert.rejects(empty(relayFixture()), /has no non-empty key "token"/);
    const withFallback = relaySecretTokens(readerOf([]), () => Promise.resolve('from-flag'));
    assert.equal(await withFallback(relayFixture()), 'from-flag');
  });
});

describe('ChatRoom without an admin token', () => {
  it('is Ready=False AdminTokenMissing, retried with backoff, and nothing is sent to the admin API', async () => {
    const relay = relayFixture({ database: { secretRef: { name: 'db', key: 'url' } } });
    const room = {
      apiVersion: 'msrp.dev/v1alpha1',
      kind: 'ChatRoom',
      metadata: { name: 'lobby', namespace: 'chat', generation: 1, resourceVersion: '7', finalizers: [ROOM_FINALIZER] },
      spec: { relayRef: { name: 'relay' }, policy: {} },
    } as unknown as ChatRoom;
    const applied: KubeObject[] = [];
    const client = { apply: (_t: unknown, o: KubeObject) => (applied.push(o), Promise.resolve(o)) } as unknown as KubeClient;
    const admin = new AdminClient();
    const calls: string[] = [];
    admin.putRoom = (_b: AdminTarget, _t: string | undefined, n: string, _r: AdminRoom) => (calls.push(n), Promise.reject(new Error('not expected')));
    const events: string[] = [];
    const reconcile = createRoomReconciler({
      client,
      rooms: cacheOf([room]),
      relays: cacheOf<MsrpRelay>([relay]),
      admin,
      tokens: relaySecretTokens(readerOf([])),
      adminUrlTemplate: 'http://127.0.0.1:1',
      statusIntervalMs: 1000,
      events: { record: (_o, _type, reason) => void events.push(reason) } satisfies EventRecorder,
      logger: createLogger({ name: 'test', level: 'silent' }),
    });
    try {
      assert.deepEqual(await reconcile('chat/lobby'), { retry: true });
    } finally {
      await admin.close();
    }
    assert.deepEqual(calls, []);
    const status = applied[0]?.status as { conditions: { type: string; status: string; reason: string; message: string }[] };
    const ready = status.conditions.find((c) => c.type === 'Ready');
    assert.equal(`${ready?.status} ${ready?.reason}`, 'False AdminTokenMissing');
    assert.match(ready!.message, /secret "relay-admin-token" not found in namespace chat: create it/);
    assert.deepEqual(events, ['AdminTokenMissing']);
  });
});
