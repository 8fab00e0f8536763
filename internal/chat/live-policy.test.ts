// Room policy from the store applies to a LIVE room: a change written to the store (as the
// admin API writes it) reaches the room through the change feed, without waiting
// for the next INVITE. Real PGlite store, real focus over UDP, real switch.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/index.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startChatServer, type RunningChatServer } from './server.ts';
import { eventually } from '../testwait.ts';
import { loopbackChatConfig } from './testchat.ts';

const logger = createLogger({ name: 'live-policy-test', level: 'silent', env: {} });
const URI = 'sip:live@chat.test';

describe('room policy from the store', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let chat: RunningChatServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'focus-live-'));
    store = await openStore({ dataDir: join(dir, 'pglite'), logger });
    await store.rooms.put('live', { uri: URI, subject: 'before', policy: { privateMessages: true, maxParticipants: 10 } });
    chat = await startChatServer(loopbackChatConfig({ rooms: [], minExpires: 1 }), { logger, store });
  });
  after(async () => {
    await chat?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a policy and subject change to the live room through the change feed, with no new INVITE', async () => {
    const uac = await SipUac.open('UDP', chat.focus.udpPort!, 'alice');
    try {
      const d = uac.newDialog(URI);
      const res = await uac.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/alice;tcp') });
      assert.equal(res.status, 200);
      await uac.send(d, 'ACK');
      const room = chat.switch.room(URI);
      assert.ok(room, 'the room is live');
      assert.equal(room.policy.privateMessages, true);
      assert.equal(room.subject, 'before');

      // Nothing but the change feed (rooms-sync.ts) or a new INVITE (there is none) applies a
      // stored change to a live room, so any bound shows the feed did it; 10 s leaves room for
      // a loaded machine, where a 1 s stopwatch failed without a fault.
      await store.rooms.put('live', { uri: URI, subject: 'after', policy: { privateMessages: false, maxParticipants: 3 } });
      await eventually(() => !room.policy.privateMessages, 'private messages turned off by the change feed', 10_000);
      assert.equal(room.policy.maxParticipants, 3);
      assert.equal(room.subject, 'after');
      assert.equal(room.participants().length, 1, 'the participant stays in the room');
      await uac.send(d, 'BYE', { inDialog: true });
    } finally {
      uac.close();
    }
  });
});
