import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSdp, parseSdp, type SessionDescription } from './sdp.ts';
import { buildChatRoomAnswer, findMsrpMedia, readMsrpMedia } from './sdp-msrp.ts';

const crlf = (s: string) => s.replace(/^\n/, '').split('\n').join('\r\n');

function sdp(text: string): SessionDescription {
  const r = parseSdp(crlf(text));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

// The offer of RFC 4975 §8 (Alice's MSRP session), with the mandatory session lines.
const RFC4975_OFFER = `
v=0
o=alice 2890844526 2890844527 IN IP4 alice.example.com
s=-
c=IN IP4 alice.example.com
t=0 0
m=message 7394 TCP/MSRP *
a=accept-types:text/plain
a=path:msrp://alice.example.com:7394/2s93i9ek2a;tcp
`;

// A chat-room offer in the shape of RFC 7701 §8: CPIM wrapping, chatroom features, setup.
const RFC7701_OFFER = `
v=0
o=Alice 2890844526 2890844527 IN IP4 client.atlanta.example.com
s=-
c=IN IP4 client.atlanta.example.com
t=0 0
m=audio 49170 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=message 7654 TCP/TLS/MSRP *
a=accept-types:message/cpim text/plain text/html
a=accept-wrapped-types:text/plain text/html
a=path:msrps://client.atlanta.example.com:7654/jshA7weztas;tcp
a=chatroom:nickname private-messages
a=setup:actpass
a=max-size:131072
a=x-unknown:kept as is
`;

describe('parseSdp and formatSdp', () => {
  it('reads the RFC 4975 §8 offer and writes it back byte for byte', () => {
    const s = sdp(RFC4975_OFFER);
    assert.equal(s.origin.address, 'alice.example.com');
    assert.equal(s.media[0]!.proto, 'TCP/MSRP');
    assert.deepEqual(s.media[0]!.formats, ['*']);
    assert.equal(formatSdp(s), crlf(RFC4975_OFFER));
  });

  it('keeps unknown attributes, property attributes and r= lines', () => {
    const text = `
v=0
o=- 1 1 IN IP6 ::1
s=x
t=0 0
r=7d 1h 0 25h
a=recvonly
m=message 9 TCP/MSRP *
b=AS:64
a=path:msrp://[::1]:9/a;tcp
a=accept-types:*
a=x-unknown:kept as is
`;
    assert.equal(formatSdp(sdp(text)), crlf(text));
  });

  for (const [what, text] of [
    ['a missing v= first line', 'o=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\n'],
    ['a missing t=', 'v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\n'],
    ['a malformed m= line', 'v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=message x TCP/MSRP *\r\n'],
    ['an unknown line type', 'v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nq=1\r\n'],
  ] as const) {
    it(`rejects ${what}`, () => {
      const r = parseSdp(text);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, 'bad-sdp');
    });
  }

  it('parse(format(x)) = x for generated MSRP descriptions', () => {
    const attr = fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), value: fc.option(fc.stringMatching(/^[ -~]{0,20}$/), { nil: null }) }, { noNullPrototype: true });
    const media = fc.record({
      media: fc.constant('message'), port: fc.integer({ min: 0, max: 65535 }), portCount: fc.constant(undefined),
      proto: fc.constantFrom('TCP/MSRP', 'TCP/TLS/MSRP'), formats: fc.constant(['*']), information: fc.constant(undefined),
      connections: fc.constant([]), bandwidths: fc.constant([]), key: fc.constant(undefined), attributes: fc.array(attr, { maxLength: 5 }),
    }, { noNullPrototype: true });
    const desc = fc.record({
      version: fc.constant(0),
      origin: fc.record({ username: fc.constant('-'), sessionId: fc.nat().map(String), sessionVersion: fc.nat().map(String), netType: fc.constant('IN'), addrType: fc.constant('IP4'), address: fc.constant('192.0.2.1') }, { noNullPrototype: true }),
      sessionName: fc.stringMatching(/^[!-~]{1,10}$/), information: fc.constant(undefined), uri: fc.constant(undefined), emails: fc.constant([]), phones: fc.constant([]),
      connection: fc.constant({ netType: 'IN', addrType: 'IP4', address: '192.0.2.1' }), bandwidths: fc.constant([]),
      timing: fc.constant([{ time: '0 0', repeats: [] }]), timeZones: fc.constant(undefined), key: fc.constant(undefined),
      attributes: fc.array(attr, { maxLength: 3 }), media: fc.array(media, { maxLength: 3 }),
    }, { noNullPrototype: true });
    fc.assert(fc.property(desc, (d) => {
      const r = parseSdp(formatSdp(d));
      assert.ok(r.ok);
      assert.deepEqual(r.value, d);
    }));
  });
});

describe('MSRP media (RFC 4975 §8, RFC 6135, RFC 7701 §8)', () => {
  it('reads path, accept-types, wrapped types, max-size, setup and chatroom features', () => {
    const m = findMsrpMedia(sdp(RFC7701_OFFER));
    assert.ok(m.ok);
    assert.equal(m.value.index, 1);
    assert.equal(m.value.proto, 'TCP/TLS/MSRP');
    assert.deepEqual(m.value.path, ['msrps://client.atlanta.example.com:7654/jshA7weztas;tcp']);
    assert.deepEqual(m.value.acceptTypes, ['message/cpim', 'text/plain', 'text/html']);
    assert.deepEqual(m.value.acceptWrappedTypes, ['text/plain', 'text/html']);
    assert.equal(m.value.maxSize, 131072);
    assert.equal(m.value.setup, 'actpass');
    assert.deepEqual(m.value.chatroom, { nickname: true, privateMessages: true, others: [] });
    assert.equal(m.value.direction, 'sendrecv');
  });

  it('refuses MSRP media without a=path or a=accept-types', () => {
    const noPath = sdp(RFC4975_OFFER.replace(/a=path.*\n/, ''));
    assert.equal(readMsrpMedia(noPath, 0).ok, false);
    const noTypes = sdp(RFC4975_OFFER.replace(/a=accept-types.*\n/, ''));
    assert.equal(readMsrpMedia(noTypes, 0).ok, false);
  });

  it('answers a chat-room offer: MSRP accepted with our path and features, audio refused with port 0', () => {
    const r = buildChatRoomAnswer(sdp(RFC7701_OFFER), {
      path: ['msrps://focus.example.com:2855/room-abc;tcp'], address: 'focus.example.com', sessionId: '42', port: 2855, maxSize: 65536,
    });
    assert.ok(r.ok);
    const text = formatSdp(r.value.sdp);
    assert.equal(text, crlf(`
v=0
o=- 42 42 IN IP4 focus.example.com
s=-
c=IN IP4 focus.example.com
t=0 0
m=audio 0 RTP/AVP 0
m=message 2855 TCP/TLS/MSRP *
a=accept-types:message/cpim
a=accept-wrapped-types:text/plain *
a=max-size:65536
a=path:msrps://focus.example.com:2855/room-abc;tcp
a=setup:passive
a=chatroom:nickname private-messages
`));
    assert.equal(r.value.focusConnects, false);
    // The answer is itself a valid MSRP description.
    const back = findMsrpMedia(sdp(text.split('\r\n').join('\n')));
    assert.ok(back.ok);
    assert.equal(back.value.setup, 'passive');
  });

  it('becomes active when the offerer is passive (RFC 6135)', () => {
    const r = buildChatRoomAnswer(sdp(RFC4975_OFFER.replace('a=path', 'a=setup:passive\na=path')), {
      path: ['msrp://focus.example.com:2855/x;tcp'], address: '192.0.2.9', sessionId: '1', port: 2855,
    });
    assert.ok(r.ok);
    assert.equal(r.value.media.setup, 'active');
    assert.equal(r.value.focusConnects, true);
    assert.equal(r.value.media.chatroom, undefined, 'no chatroom attribute when the offer had none');
  });

  it('fails an offer without MSRP media', () => {
    const r = buildChatRoomAnswer(sdp('v=0\no=- 1 1 IN IP4 a\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\n'), { path: [], address: 'a', sessionId: '1', port: 1 });
    assert.equal(r.ok, false);
  });
});
