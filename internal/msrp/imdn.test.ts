import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpim } from './cpim.ts';
import { dispositionRequests, imdnMessageId, isDispositionNotification } from './imdn.ts';

// The request example of RFC 5438's overview (CPIM headers of an IM asking for positive and
// negative delivery notifications), with the blank line RFC 3862 §3.1 requires.
const REQUEST = [
  'From: Alice <im:alice@example.com>',
  'To: Bob <im:bob@example.com>',
  'NS: imdn <urn:ietf:params:imdn>',
  'imdn.Message-ID: 34jk324j',
  'DateTime: 2006-04-04T12:16:49-05:00',
  'imdn.Disposition-Notification: positive-delivery, negative-delivery',
  '',
  'Content-type: text/plain',
  'Content-length: 12',
  '',
  'Hello World',
].join('\r\n');

describe('IMDN header fields (RFC 5438)', () => {
  it('reads imdn.Message-ID and the requested notifications', () => {
    const r = parseCpim(Buffer.from(REQUEST));
    assert.ok(r.ok);
    assert.equal(imdnMessageId(r.message), '34jk324j');
    assert.deepEqual(dispositionRequests(r.message), ['positive-delivery', 'negative-delivery']);
    assert.equal(isDispositionNotification(r.message), false);
  });

  it('ignores Disposition-Notification outside the imdn namespace and unknown values', () => {
    const r = parseCpim(Buffer.from(REQUEST.replace('imdn.Disposition-Notification: positive-delivery, negative-delivery', 'Disposition-Notification: display\r\nimdn.Disposition-Notification: Display, bogus, display')));
    assert.ok(r.ok);
    assert.deepEqual(dispositionRequests(r.message), ['display']);
  });

  it('recognises message/imdn+xml, with parameters and any case, as a notification', () => {
    assert.equal(isDispositionNotification({ contentType: 'message/imdn+xml' }), true);
    assert.equal(isDispositionNotification({ contentType: 'Message/IMDN+XML; charset=utf-8' }), true);
    assert.equal(isDispositionNotification({ contentType: 'application/imdn+xml' }), false);
    assert.equal(isDispositionNotification({}), false);
  });
});
