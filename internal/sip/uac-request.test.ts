import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDigestCredentials } from '../auth/digest.ts';
import { cseq } from './fields.ts';
import { headerValue } from './message.ts';
import { buildResponse } from './responses.ts';
import { digestRetry, learnDialog, uacRequest, type UacDialog } from './uac-request.ts';

const dialog = (): UacDialog => ({ callId: 'c1', fromTag: 'f1', toTag: undefined, uri: 'sip:lobby@chat.test', from: 'sip:alice@example.com', seq: 1, target: undefined });
const VIA = 'SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKabc';

describe('a UAC\'s requests in its dialog (RFC 3261 §8.1.1, §12.2.1.1, §22.2)', () => {
  it('builds the request with the dialog\'s headers, moving CSeq on except for the ACK, which goes to the remote target', () => {
    const d = dialog();
    const { req: invite, uri } = uacRequest(d, 'INVITE', { body: 'v=0\r\n' }, VIA, '<sip:alice@192.0.2.1:5070;transport=tcp>');
    assert.equal(uri, 'sip:lobby@chat.test');
    assert.equal(headerValue(invite, 'Via'), VIA);
    assert.equal(headerValue(invite, 'From'), '<sip:alice@example.com>;tag=f1');
    assert.equal(headerValue(invite, 'To'), '<sip:lobby@chat.test>');
    assert.equal(headerValue(invite, 'Content-Type'), 'application/sdp');
    assert.deepEqual(cseq(invite), { seq: 2, method: 'INVITE' });

    learnDialog(d, buildResponse(invite, 200, 'focus-tag', { headers: [['Contact', '<sip:lobby@10.0.0.5:5060;transport=tcp>;isfocus']] }));
    assert.equal(d.toTag, 'focus-tag');
    assert.equal(d.target, 'sip:lobby@10.0.0.5:5060;transport=tcp');
    const { req: ack, uri: ackUri } = uacRequest(d, 'ACK', {}, VIA, '<sip:alice@192.0.2.1>');
    assert.equal(ackUri, 'sip:lobby@10.0.0.5:5060;transport=tcp');
    assert.deepEqual(cseq(ack), { seq: 2, method: 'ACK' });
    assert.equal(headerValue(ack, 'To'), '<sip:lobby@chat.test>;tag=focus-tag');
    const { req: bye } = uacRequest(d, 'BYE', { inDialog: true }, VIA, '<sip:alice@192.0.2.1>');
    assert.equal(bye.uri, 'sip:lobby@10.0.0.5:5060;transport=tcp');
    assert.deepEqual(cseq(bye), { seq: 3, method: 'BYE' });
  });

  it('learns the dialog from the first 2xx only', () => {
    const d = dialog();
    const { req } = uacRequest(d, 'INVITE', {}, VIA, '<sip:a@h>');
    learnDialog(d, buildResponse(req, 180, 'early'));
    assert.equal(d.toTag, undefined, 'a provisional response makes no dialog here');
    learnDialog(d, buildResponse(req, 200, 'first', { headers: [['Contact', '<sip:one@h>']] }));
    learnDialog(d, buildResponse(req, 200, 'second', { headers: [['Contact', '<sip:two@h>']] }));
    assert.equal(d.toTag, 'first');
    assert.equal(d.target, 'sip:one@h');
  });

  it('answers a 401 or 407 challenge once, for the method and Request-URI, and never twice', () => {
    const d = dialog();
    const { req, uri } = uacRequest(d, 'SUBSCRIBE', {}, VIA, '<sip:a@h>');
    const creds = { username: 'alice', password: 'alice-pw' };
    const challenge = buildResponse(req, 401, 'x', { headers: [['WWW-Authenticate', 'Digest realm="example.com", nonce="n1", qop="auth", algorithm=SHA-256']] });
    const retry = digestRetry(challenge, 'SUBSCRIBE', uri, { headers: [['Event', 'conference']] }, creds);
    assert.ok(retry);
    const [name, value] = retry.headers!.at(-1)!;
    assert.equal(name, 'Authorization');
    assert.deepEqual(retry.headers![0], ['Event', 'conference'], 'the request\'s own headers are kept');
    const parsed = parseDigestCredentials(value);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.username, 'alice');
    assert.equal(parsed.value.realm, 'example.com');
    assert.equal(parsed.value.uri, 'sip:lobby@chat.test');
    assert.equal(parsed.value.algorithm, 'SHA-256');
    // Refused again with the answer in: no second answer (the password is wrong, not missing).
    assert.equal(digestRetry(challenge, 'SUBSCRIBE', uri, retry, creds), undefined);
    const proxy = buildResponse(req, 407, 'x', { headers: [['Proxy-Authenticate', 'Digest realm="example.com", nonce="n2", qop="auth"']] });
    assert.equal(digestRetry(proxy, 'SUBSCRIBE', uri, {}, creds)!.headers!.at(-1)![0], 'Proxy-Authorization');
    assert.equal(digestRetry(challenge, 'SUBSCRIBE', uri, {}, undefined), undefined, 'no credentials');
    assert.equal(digestRetry(buildResponse(req, 403, 'x'), 'SUBSCRIBE', uri, {}, creds), undefined, 'not a challenge');
  });
});
