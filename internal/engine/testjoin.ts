// Test support: a participant joins a chat room of a running engine (RFC 7701 §5): INVITE
// with an SDP offer to the focus, ACK, then an MSRP connection to the switch at the answer's
// a=path, bound with an empty SEND (RFC 4975 §5.4). Used by engine.test.ts and
// accounting.postgres.test.ts.
import assert from 'node:assert/strict';
import { TestClient } from '../relay/testclient.ts';

/**
 * What joining needs of a SIP UAC: internal/client/sip-uac.ts's SipUac has it. Engine code,
 * its test helpers included, does not import the client (docs/architecture.md §2.2); the
 * tests do, and hand theirs in.
 */
export interface JoiningUac<D> {
  newDialog(uri: string): D;
  send(d: D, method: string, o?: { body?: string }): Promise<{ status: number; body: Buffer }>;
}

/** The dialog, the switch's path from the answer, and the bound MSRP participant (the caller closes it). */
export async function joinRoom<D>(uac: JoiningUac<D>, o: { room: string; offer: string; participant: string; msrpPort: number }): Promise<{ dialog: D; switchPath: string; p: TestClient }> {
  const dialog = uac.newDialog(o.room);
  const res = await uac.send(dialog, 'INVITE', { body: o.offer });
  assert.equal(res.status, 200);
  await uac.send(dialog, 'ACK');
  const switchPath = /^a=path:(\S+)$/m.exec(res.body.toString())?.[1] ?? '';
  const p = await TestClient.connect({ port: o.msrpPort, uri: o.participant });
  try {
    const bind = p.send('SEND', [switchPath]);
    assert.equal((await p.response(bind.transactionId)).status, 200, 'the switch binds the connection to the session');
  } catch (e) {
    p.close();
    throw e;
  }
  return { dialog, switchPath, p };
}
