import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram, SipStreamFramer } from './parser.ts';
import type { SipParseError } from './errors.ts';
import { headerValue, headerValues, type SipMessage } from './message.ts';
import { callId, contacts, cseq, fromHeader, maxForwards, optionTags, routes, toHeader, topVia, vias } from './fields.ts';
import { INVALID, RFC3261_200, RFC3261_INVITE, VALID, WSINV, WSINV_BODY, sip } from './testdata/vectors.ts';

function parsed(bytes: Buffer | string): SipMessage {
  const r = parseDatagram(bytes);
  assert.ok(r, 'not a keep-alive');
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value;
}

function frame(bytes: Buffer, splits: number[] = [], options = {}) {
  const messages: SipMessage[] = [];
  const errors: SipParseError[] = [];
  let pings = 0;
  const framer = new SipStreamFramer({ onMessage: (m) => messages.push(m), onError: (e) => errors.push(e), onKeepAlive: () => pings++ }, options);
  let at = 0;
  for (const s of [...splits, bytes.length]) {
    framer.push(bytes.subarray(at, s));
    at = s;
  }
  return { messages, errors, pings, framer };
}

describe('parseDatagram on RFC 3261 examples', () => {
  it('reads the §4 INVITE: start line, typed headers and body', () => {
    const m = parsed(RFC3261_INVITE);
    assert.equal(m.kind, 'request');
    assert.equal(m.kind === 'request' && m.method, 'INVITE');
    assert.equal(m.kind === 'request' && m.uri, 'sip:bob@biloxi.com');
    const via = topVia(m)!;
    assert.deepEqual([via.protocol, via.transport, via.host, via.port, via.branch], ['SIP/2.0', 'UDP', 'pc33.atlanta.com', undefined, 'z9hG4bK776asdhds']);
    assert.equal(fromHeader(m)!.displayName, 'Alice');
    assert.equal(fromHeader(m)!.params.get('tag'), '1928301774');
    assert.equal(toHeader(m)!.uri, 'sip:bob@biloxi.com');
    assert.equal(toHeader(m)!.params.has('tag'), false);
    assert.deepEqual(cseq(m), { seq: 314159, method: 'INVITE' });
    assert.equal(callId(m), 'a84b4c76e66710@pc33.atlanta.com');
    assert.equal(maxForwards(m), 70);
    assert.ok(m.body.toString().startsWith('v=0\r\n'));
    assert.equal(headerValue(m, 'Content-Length'), undefined, 'Content-Length is framing, not kept');
  });

  it('reads the §4 200 OK with three Vias, received parameters and a space before ";"', () => {
    const m = parsed(RFC3261_200);
    assert.equal(m.kind === 'response' && m.status, 200);
    assert.equal(m.kind === 'response' && m.reason, 'OK');
    assert.deepEqual(vias(m).map((v) => [v.host, v.received]), [
      ['server10.biloxi.com', '192.0.2.3'], ['bigbox3.site3.atlanta.com', '192.0.2.2'], ['pc33.atlanta.com', '192.0.2.1'],
    ]);
    assert.equal(toHeader(m)!.params.get('tag'), 'a6c85cf');
  });
});

describe('parseDatagram on RFC 4475 torture messages', () => {
  it('reads "wsinv": folding, odd case and whitespace, compact forms, escaped quotes', () => {
    const m = parsed(WSINV);
    assert.equal(toHeader(m)!.params.get('tag'), '1918181833n');
    assert.equal(fromHeader(m)!.displayName, 'J Rosenberg \\"');
    assert.equal(fromHeader(m)!.params.get('tag'), '98asjd8');
    assert.equal(maxForwards(m), 68);
    assert.deepEqual(cseq(m), { seq: 9, method: 'INVITE' });
    assert.equal(headerValue(m, 'Subject'), '');
    assert.equal(headerValue(m, 'NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(headerValue(m, 'UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    assert.deepEqual(vias(m).map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'], ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    const [contact] = contacts(m);
    assert.ok(contact && !contact.star);
    assert.equal(contact.displayName, 'Quoted string ""');
    assert.deepEqual([...contact.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
    assert.equal(routes(m)[0]!.uri, 'sip:services.example.com;lr;unknownwith=value;unknown-no-value');
    assert.equal(m.body.toString(), WSINV_BODY.slice(1).split('\n').join('\r\n'));
  });

  for (const [name, bytes] of Object.entries(VALID)) {
    it(`accepts the valid message "${name}"`, () => {
      parsed(bytes);
    });
  }

  it('keeps an empty reason phrase ("noreason") and a UTF-8 one ("unreason")', () => {
    const a = parsed(VALID.noreason!);
    assert.equal(a.kind === 'response' && a.reason, '');
    const b = parsed(VALID.unreason!);
    assert.ok(b.kind === 'response' && b.reason.endsWith('\u043f\u0440\u043e\u0441\u0442\u043e\u0435'));
  });

  for (const [name, [bytes, code, status]] of Object.entries(INVALID)) {
    it(`rejects "${name}" with ${code} (${status})`, () => {
      const r = parseDatagram(bytes);
      assert.ok(r && !r.ok, 'expected an error');
      assert.equal(r.error.code, code);
      assert.equal(r.error.status, status);
    });
  }

  it('names the missing header in the reason phrase ("Missing Call-ID")', () => {
    const r = parseDatagram(sip(`
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bK1
From: <sip:a@example.net>;tag=1
To: <sip:user@example.com>
CSeq: 1 OPTIONS
`));
    assert.ok(r && !r.ok);
    assert.equal(r.error.reason, 'Missing Call-ID');
    assert.equal(r.error.header, 'Call-ID');
    assert.equal(r.error.partial?.kind, 'request', 'the partial message lets a UAS answer');
  });
});

describe('header syntax', () => {
  it('maps compact forms to canonical names', () => {
    const m = parsed(sip(`
MESSAGE sip:room@example.com SIP/2.0
v: SIP/2.0/TCP a.example.com;branch=z9hG4bKc
f: <sip:a@example.com>;tag=1
t: <sip:room@example.com>
i: compact@a
CSeq: 2 MESSAGE
m: <sip:a@a.example.com>
c: text/plain
k: timer, norefersub
s: hi
o: conference
u: conference, refer
r: <sip:b@example.com>
b: <sip:a@example.com>
x: 1800
e: gzip
`, 'hello'));
    assert.deepEqual(m.headers.map((h) => h.name), [
      'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Type', 'Supported', 'Supported', 'Subject', 'Event',
      'Allow-Events', 'Allow-Events', 'Refer-To', 'Referred-By', 'Session-Expires', 'Content-Encoding',
    ]);
    assert.deepEqual(optionTags(m, 'Supported'), ['timer', 'norefersub']);
  });

  it('splits list headers on commas outside quotes and angle brackets, never Authorization', () => {
    const m = parsed(sip(`
INVITE sip:room@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2
From: <sip:a@example.com>;tag=1
To: <sip:room@example.com>
Call-ID: split@a
CSeq: 1 INVITE
Contact: "Doe, John" <sip:j@a.example.com;x=a,b>;expires=60, <sip:k@b.example.com>;isfocus
Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
Allow: INVITE,ACK , BYE
Authorization: Digest username="a", realm="r", nonce="n", uri="sip:room@example.com", response="0"
`));
    assert.equal(headerValues(m, 'Via').length, 2);
    const cs = contacts(m);
    assert.equal(cs.length, 2);
    assert.ok(!cs[0]!.star && cs[0]!.displayName === 'Doe, John' && cs[0]!.expires === 60);
    assert.ok(!cs[1]!.star && cs[1]!.params.has('isfocus'));
    assert.deepEqual(routes(m, 'Record-Route').map((r) => r.uri), ['sip:p1.example.com;lr', 'sip:p2.example.com;lr']);
    assert.deepEqual(headerValues(m, 'Allow'), ['INVITE', 'ACK', 'BYE']);
    assert.equal(headerValues(m, 'Authorization').length, 1);
  });

  it('refuses a raw control character and a bare LF inside a header', () => {
    const nul = parseDatagram(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nSubject: a\0b\r\n\r\n'));
    assert.equal(nul && !nul.ok && nul.error.code, 'control-char');
    const lf = parseDatagram(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nSubject: a\nb\r\n\r\n'));
    assert.equal(lf && !lf.ok && lf.error.code, 'bad-line-ending');
  });
});

describe('datagram framing (RFC 3261 §18.3)', () => {
  it('takes the rest of the datagram as body when Content-Length is absent', () => {
    const m = parsed(sip(RFC3261_INVITE.toString().split('\r\nContent-Length')[0]!.replaceAll('\r\n', '\n'), 'v=0\n', 'none'));
    assert.equal(m.body.toString(), 'v=0\r\n');
  });

  it('discards bytes beyond Content-Length', () => {
    const bytes = Buffer.concat([sip('OPTIONS sip:a@b.example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:x@y>;tag=1\nTo: <sip:a@b.example.com>\nCall-ID: c\nCSeq: 1 OPTIONS', 'abc'), Buffer.from('junk')]);
    assert.equal(parsed(bytes).body.toString(), 'abc');
  });

  it('treats a datagram of CRLFs as a keep-alive', () => {
    assert.equal(parseDatagram('\r\n\r\n'), undefined);
  });
});

describe('SipStreamFramer', () => {
  const two = Buffer.concat([RFC3261_INVITE, Buffer.from('\r\n\r\n'), RFC3261_200]);

  it('yields the same messages for every split of the byte stream', () => {
    const whole = frame(two);
    assert.equal(whole.messages.length, 2);
    assert.equal(whole.pings, 1, 'the CRLF CRLF between messages is a keep-alive ping (RFC 5626 §3.5.1)');
    for (let i = 1; i < two.length; i += 7) {
      const r = frame(two, [i]);
      assert.deepEqual(r.messages, whole.messages, `split at ${i}`);
    }
    const bytewise = frame(two, Array.from({ length: two.length - 1 }, (_, i) => i + 1));
    assert.deepEqual(bytewise.messages, whole.messages);
  });

  it('closes with a fatal 413 when the head exceeds maxHeaderBytes, before its end arrives', () => {
    const r = frame(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nSubject: ${'x'.repeat(200)}`), [], { maxHeaderBytes: 100 });
    assert.equal(r.errors[0]?.code, 'header-too-large');
    assert.equal(r.errors[0]?.status, 413);
    assert.equal(r.errors[0]?.fatal, true);
    assert.equal(r.framer.closed, true);
  });

  it('answers 413 for a body over maxBodyBytes, skips it and keeps framing', () => {
    const big = sip('MESSAGE sip:a@b.example.com SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nFrom: <sip:x@y>;tag=1\nTo: <sip:a@b.example.com>\nCall-ID: c\nCSeq: 1 MESSAGE', 'x'.repeat(500));
    const r = frame(Buffer.concat([big, RFC3261_200]), [10, 300], { maxBodyBytes: 100 });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.code, 'body-too-large');
    assert.equal(r.errors[0]!.fatal, false);
    assert.equal(r.errors[0]!.partial?.kind, 'request');
    assert.equal(r.messages.length, 1);
  });

  it('reports a missing Content-Length as a 400 and keeps framing with an empty body', () => {
    const noLength = sip('OPTIONS sip:a@b.example.com SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nFrom: <sip:x@y>;tag=1\nTo: <sip:a@b.example.com>\nCall-ID: c\nCSeq: 1 OPTIONS', '', 'none');
    const r = frame(Buffer.concat([noLength, RFC3261_200]));
    assert.equal(r.errors[0]?.code, 'missing-content-length');
    assert.equal(r.messages.length, 1);
  });

  it('closes on a negative Content-Length: the next message cannot be found', () => {
    const r = frame(INVALID.ncl![0]);
    assert.equal(r.errors[0]?.code, 'bad-content-length');
    assert.equal(r.errors[0]?.fatal, true);
    assert.equal(r.framer.push(RFC3261_200), false);
  });

  it('reports a stream that ends inside a message', () => {
    const r = frame(RFC3261_INVITE.subarray(0, 50));
    r.framer.end();
    assert.equal(r.errors[0]?.fatal, true);
  });
});
