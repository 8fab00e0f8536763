// multipart/mixed bodies of a conference-factory INVITE (RFC 2046 §5.1, RFC 5366): the SDP
// part and the resource list of invitees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMultipart, resourceListUris } from './multipart.ts';

const body = Buffer.from([
  'preamble, ignored',
  '--boundary1',
  'Content-Type: application/sdp',
  '',
  'v=0',
  'm=message 9 TCP/MSRP *',
  '',
  '--boundary1',
  'Content-Type: application/resource-lists+xml',
  'Content-Disposition: recipient-list',
  '',
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:cp="urn:ietf:params:xml:ns:copycontrol">',
  '  <list>',
  '    <entry uri="sip:bill@example.com" cp:copyControl="to"/>',
  "    <entry uri='sip:joe@example.org?x=1&amp;y=2' cp:copyControl=\"cc\"/>",
  '    <rl:entry xmlns:rl="urn:ietf:params:xml:ns:resource-lists" uri="tel:+1-972-555-0123"/>',
  '  </list>',
  '</resource-lists>',
  '--boundary1--',
  'epilogue',
].join('\r\n'));

describe('multipart bodies (RFC 2046 §5.1) and resource lists (RFC 5366)', () => {
  it('splits the parts with their types, headers and bodies', () => {
    const r = parseMultipart(body, 'multipart/mixed;boundary="boundary1"');
    assert.ok(r.ok);
    assert.deepEqual(r.value.map((p) => p.mediaType), ['application/sdp', 'application/resource-lists+xml']);
    assert.equal(r.value[0]!.body.toString(), 'v=0\r\nm=message 9 TCP/MSRP *\r\n');
    assert.equal(r.value[1]!.headers.get('content-disposition'), 'recipient-list');
    assert.deepEqual(resourceListUris(r.value[1]!.body), ['sip:bill@example.com', 'sip:joe@example.org?x=1&y=2', 'tel:+1-972-555-0123']);
    assert.deepEqual(resourceListUris(r.value[1]!.body, 1), ['sip:bill@example.com'], 'bounded');
  });

  it('refuses a body without a boundary parameter, delimiter or close-delimiter', () => {
    assert.equal(parseMultipart(body, 'multipart/mixed').ok, false);
    assert.equal(parseMultipart(Buffer.from('nothing'), 'multipart/mixed;boundary=b').ok, false);
    assert.equal(parseMultipart(Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nx'), 'multipart/mixed;boundary=b').ok, false);
  });
});
