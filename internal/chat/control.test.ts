// The engine's control endpoint serving the chat server's rooms (what the admin API's
// /v1/rooms/{name}/participants and the operator's ChatRoom status read): real relay
// control server, real focus and switch, a participant joined over SIP/TCP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { startTestRelay, type TestRelay } from '../relay/testrelay.ts';
import { createLogger } from '../telemetry/logger.ts';
import { roomsControl } from './control.ts';
import { startChatServer, type RunningChatServer } from './server.ts';
import { loopbackChatConfig } from './testchat.ts';

describe('control endpoint: room participants', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  let relay: TestRelay;
  let bare: TestRelay;
  const url = (r: TestRelay, path: string) => `http://127.0.0.1:${r.relay.control!.port}${path}`;

  before(async () => {
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby' }, { name: 'empty' }] }), { logger: createLogger({ name: 't', level: 'silent', env: {} }) });
    relay = await startTestRelay({ control: { host: '127.0.0.1', port: 0 } });
    relay.relay.attachRooms(roomsControl(chat));
    bare = await startTestRelay({ control: { host: '127.0.0.1', port: 0 } });
  });
  after(async () => {
    await chat.close();
    await relay.relay.stop();
    await bare.relay.stop();
  });

  it('lists a joined participant, removes it (the focus sends BYE), and answers 404 for rooms it does not serve', async () => {
    const uac = await SipUac.open('TCP', chat.focus.tcpPort!, 'alice');
    try {
      const d = uac.newDialog('sip:lobby@chat.test');
      const res = await uac.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/alice;tcp') });
      assert.equal(res.status, 200);
      await uac.send(d, 'ACK');

      const list = await (await fetch(url(relay, '/rooms/lobby/participants'))).json() as { participants: { id: string; uri: string; moderator: boolean }[] };
      assert.equal(list.participants.length, 1);
      assert.equal(list.participants[0]!.uri, 'sip:alice@example.com');
      // A room of the directory nobody joined yet is served, and empty.
      assert.deepEqual(await (await fetch(url(relay, '/rooms/empty/participants'))).json(), { participants: [] });
      assert.equal((await fetch(url(relay, '/rooms/nowhere/participants'))).status, 404);
      // Malformed percent-encoding is a 400, not a crash of the engine (the next request still works).
      assert.equal((await fetch(url(relay, '/rooms/%E0%A4%A/participants'))).status, 400);
      assert.equal((await fetch(url(relay, '/sessions/%ZZ'), { method: 'DELETE' })).status, 400);
      // An engine without the chat server serves no room at all.
      assert.equal((await fetch(url(bare, '/rooms/lobby/participants'))).status, 404);

      const bye = uac.nextRequest('BYE');
      const del = await fetch(url(relay, `/rooms/lobby/participants/${encodeURIComponent(list.participants[0]!.id)}`), { method: 'DELETE' });
      assert.equal(del.status, 204);
      assert.equal((await bye).method, 'BYE');
      assert.deepEqual(await (await fetch(url(relay, '/rooms/lobby/participants'))).json(), { participants: [] });
      assert.equal((await fetch(url(relay, `/rooms/lobby/participants/${encodeURIComponent(list.participants[0]!.id)}`), { method: 'DELETE' })).status, 404);
    } finally {
      uac.close();
    }
  });
});
