import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSipUri, parseSipUri, sipUriEquals, uriEquals } from './uri.ts';

describe('parseSipUri', () => {
  it('reads every component of sip:user:password@host:port;params?headers (RFC 3261 §19.1.1)', () => {
    const u = parseSipUri('sips:alice:secretword@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent')!;
    assert.deepEqual([u.scheme, u.user, u.password, u.host, u.port], ['sips', 'alice', 'secretword', 'atlanta.com', 5061]);
    assert.deepEqual([...u.params], [['transport', 'tcp'], ['lr', null]]);
    assert.deepEqual([...u.headers], [['subject', 'project%20x'], ['priority', 'urgent']]);
  });

  it('reads IPv6 references, telephone-subscriber users and a ";" in the user part', () => {
    assert.equal(parseSipUri('sip:[2001:db8::10]:5070')!.host, '[2001:db8::10]');
    assert.equal(parseSipUri('sip:+1-212-555-1212:1234@gateway.com;user=phone')!.user, '+1-212-555-1212');
    assert.equal(parseSipUri('sip:user;par=u%40example.net@example.com')!.user, 'user;par=u%40example.net');
  });

  for (const bad of ['sip:', 'http://a.example.com', 'sip:a b@c', 'sip:user@host:99999', 'sip:user@[::1', 'sip:u@h;x=a b']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseSipUri(bad), undefined));
  }

  it('formats back to the same text', () => {
    for (const s of ['sip:alice@atlanta.com', 'sips:a:b@[::1]:5061;transport=tls;lr?x=1&y=2', 'sip:biloxi.com;method=REGISTER']) {
      assert.equal(formatSipUri(parseSipUri(s)!), s);
    }
    fc.assert(fc.property(
      fc.stringMatching(/^[a-z0-9]{1,8}$/), fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}[a-z0-9]$/), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      (user, host, port) => {
        const text = `sip:${user}@${host}${port === undefined ? '' : `:${port}`};transport=tcp`;
        return formatSipUri(parseSipUri(text)!) === text;
      },
    ));
  });
});

describe('sipUriEquals (RFC 3261 §19.1.4 examples)', () => {
  const equal = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
  ];
  const different = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'],
  ];
  for (const [a, b] of equal) it(`${a} equals ${b}`, () => assert.ok(uriEquals(a!, b!) && uriEquals(b!, a!)));
  for (const [a, b] of different) it(`${a} differs from ${b}`, () => assert.ok(!uriEquals(a!, b!) && !uriEquals(b!, a!)));

  it('is reflexive for parsed URIs', () => {
    const u = parseSipUri('sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15')!;
    assert.ok(sipUriEquals(u, u));
  });
});
