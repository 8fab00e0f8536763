import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_URI_LENGTH,
  effectivePort,
  formatMsrpUri,
  parseIPv6,
  parseMsrpUri,
  parsePath,
  uriEquals,
  type MsrpUri,
  type UriErrorCode,
} from './uri.ts';

/** Characters read through String.prototype methods while `fn` runs (charCodeAt: 1; a scan: its span). */
function charactersExamined(fn: () => unknown): number {
  const proto = String.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved to be called with .call(this) and restored
  const saved = { charCodeAt: proto.charCodeAt, indexOf: proto.indexOf, slice: proto.slice, toLowerCase: proto.toLowerCase };
  let n = 0;
  proto.charCodeAt = function (this: string, i: number) { n++; return saved.charCodeAt.call(this, i); };
  proto.indexOf = function (this: string, sub: string, from = 0) {
    const at = saved.indexOf.call(this, sub, from);
    n += (at === -1 ? this.length : at + sub.length) - Math.max(0, from);
    return at;
  };
  proto.slice = function (this: string, a?: number, b?: number) { const r = saved.slice.call(this, a, b); n += r.length; return r; };
  proto.toLowerCase = function (this: string) { n += this.length; return saved.toLowerCase.call(this); };
  try {
    fn();
  } finally {
    Object.assign(proto, saved);
  }
  return n;
}

function ok(s: string): MsrpUri {
  const r = parseMsrpUri(s);
  if (!r.ok) assert.fail(`expected ${s} to parse: ${r.error.message}`);
  return r.uri;
}

function errorCode(s: string): UriErrorCode {
  const r = parseMsrpUri(s);
  if (r.ok) assert.fail(`expected ${s} to be refused`);
  return r.error.code;
}

describe('parseMsrpUri', () => {
  it('parses the URIs of the RFC 4975 §4 example session', () => {
    assert.deepEqual(ok('msrp://atlanta.example.com:7654/jshA7weztas;tcp'), {
      scheme: 'msrp',
      host: 'atlanta.example.com',
      hostKind: 'reg-name',
      port: 7654,
      sessionId: 'jshA7weztas',
      transport: 'tcp',
      params: [],
    });
    assert.equal(ok('msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp').sessionId, 'kjhd37s2s20w2a');
  });

  it('parses a relay URI with userinfo and no session-id, as RFC 4976 uses them', () => {
    const uri = ok('msrps://alice@relay.example.com;tcp');
    assert.equal(uri.scheme, 'msrps');
    assert.equal(uri.userinfo, 'alice');
    assert.equal(uri.sessionId, undefined);
    assert.equal(uri.port, undefined);
  });

  it('accepts the RFC 7977 WebSocket transport in any case and keeps it as written', () => {
    assert.equal(ok('msrps://df7jal23ls0d.invalid/2s93i93idj;ws').transport, 'ws');
    assert.equal(ok('msrp://h/s;WS').transport, 'WS');
  });

  it('lower-cases the scheme, which RFC 3986 makes case-insensitive', () => {
    assert.equal(ok('MSRPS://h/s;tcp').scheme, 'msrps');
  });

  it('keeps other URI parameters with and without values, in order', () => {
    assert.deepEqual(ok('msrp://h/s;tcp;foo=bar;baz').params, [{ name: 'foo', value: 'bar' }, { name: 'baz' }]);
  });

  it('accepts every session-id character of RFC 4975 §9 including "+", "=", "/" and "~"', () => {
    assert.equal(ok('msrp://h/aZ09-._~+=/x;tcp').sessionId, 'aZ09-._~+=/x');
  });

  it('refuses percent signs, colons and "@" in a session-id', () => {
    assert.equal(errorCode('msrp://h/ab%41;tcp'), 'bad-session-id');
    assert.equal(errorCode('msrp://h/ab:c;tcp'), 'bad-session-id');
    assert.equal(errorCode('msrp://h/;tcp'), 'bad-session-id');
  });

  it('parses IPv4 hosts and refuses malformed dotted quads', () => {
    assert.equal(ok('msrp://192.0.2.1:2855/s;tcp').hostKind, 'ipv4');
    assert.equal(errorCode('msrp://192.0.2.256/s;tcp'), 'bad-host');
    assert.equal(errorCode('msrp://192.0.2/s;tcp'), 'bad-host');
    assert.equal(errorCode('msrp://192.0.2.01/s;tcp'), 'bad-host');
  });

  it('parses bracketed IPv6 hosts with "::" compression and embedded IPv4', () => {
    for (const h of ['2001:db8::1', '::1', '::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::ffff:192.0.2.1', '64:ff9b::192.0.2.33']) {
      const uri = ok(`msrp://[${h}]:9/s;tcp`);
      assert.equal(uri.host, h);
      assert.equal(uri.hostKind, 'ipv6');
    }
  });

  it('refuses malformed IPv6 literals', () => {
    for (const h of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '1:2:3:4:5:6:7:8::', 'g::1', '::1.2.3', '1.2.3.4::', 'fe80::1%eth0', 'v1.x', '']) {
      assert.equal(errorCode(`msrp://[${h}]/s;tcp`), 'bad-host', h);
    }
    assert.equal(errorCode('msrp://[::1/s;tcp'), 'bad-host');
  });

  it('refuses ports that are empty, zero, too large or not numeric', () => {
    assert.equal(errorCode('msrp://h:/s;tcp'), 'bad-port');
    assert.equal(errorCode('msrp://h:0/s;tcp'), 'bad-port');
    assert.equal(errorCode('msrp://h:65536/s;tcp'), 'bad-port');
    assert.equal(errorCode('msrp://h:12x/s;tcp'), 'bad-port');
    assert.equal(ok('msrp://h:65535/s;tcp').port, 65535);
  });

  it('refuses other schemes and URIs without a transport', () => {
    assert.equal(errorCode('sip://h/s;tcp'), 'bad-scheme');
    assert.equal(errorCode('msrp:h/s;tcp'), 'bad-scheme');
    assert.equal(errorCode('msrp://h/s'), 'missing-transport');
    assert.equal(errorCode('msrp://h/s;'), 'missing-transport');
    assert.equal(errorCode('msrp://h/s;t-c'), 'bad-transport');
  });

  it('refuses bad characters in host, userinfo and parameters', () => {
    assert.equal(errorCode('msrp:///s;tcp'), 'bad-host');
    assert.equal(errorCode('msrp://h<st/s;tcp'), 'bad-host');
    assert.equal(errorCode('msrp://a b@h/s;tcp'), 'bad-userinfo');
    assert.equal(errorCode('msrp://h/s;tcp;a=b:c'), 'bad-parameter');
    assert.equal(errorCode('msrp://h/s;tcp;=x'), 'bad-parameter');
    assert.equal(errorCode('msrp://h/s;tcp;a='), 'bad-parameter');
  });

  it('says what is wrong and at which offset', () => {
    const r = parseMsrpUri('msrp://h:99999/s;tcp');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.offset, 9);
      assert.match(r.error.message, /port is greater than 65535 \(at offset 9\)/);
    }
  });

  it('refuses input longer than the bound before scanning it', () => {
    assert.equal(errorCode(`msrp://h/${'a'.repeat(MAX_URI_LENGTH)};tcp`), 'too-long');
  });

  it('stays linear on long pathological input: characters examined grow with the length, not its square', () => {
    // An operation count, not a stopwatch (a time bound fails under load and passes a slow
    // quadratic scan on a fast machine): every character the parser reads through a string
    // method is counted, including re-scans of slices.
    for (const unit of ['@', '%', ':', '[', ';', '/', '%4', '@:', '[:', ';a=']) {
      for (const n of [64, 256, MAX_URI_LENGTH - 16]) {
        const evil = ('msrp://' + unit.repeat(n)).slice(0, n);
        const cost = charactersExamined(() => parseMsrpUri(evil));
        assert.ok(cost > 0, 'the counter sees the parser');
        assert.ok(cost <= 8 * evil.length + 64, `${JSON.stringify(unit)} x ${n}: ${cost} characters examined for ${evil.length}`);
      }
    }
    const path = Array.from({ length: 40 }, (_, i) => `msrp://h${i}.example.com:${i + 1}/${'@'.repeat(10)};tcp`).join(' ');
    assert.ok(charactersExamined(() => parsePath(path)) <= 8 * path.length + 64, 'a long path is parsed in one pass');
  });
});

describe('parsePath', () => {
  it('parses a space-separated path in wire order', () => {
    const r = parsePath('msrps://relay.example.com:2855/jo3;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp');
    assert.ok(r.ok);
    assert.deepEqual(
      r.uris.map((u) => u.host),
      ['relay.example.com', 'bob.example.com'],
    );
  });

  it('reports the failing URI and the offset within the whole header value', () => {
    const r = parsePath('msrp://a/b;tcp msrp://c:x/d;tcp');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, 'bad-port');
      assert.equal(r.error.offset, 24);
      assert.match(r.error.message, /^URI 2 of the path: /);
    }
  });

  it('refuses an empty path', () => {
    const r = parsePath('  ');
    assert.ok(!r.ok && r.error.code === 'empty-path');
  });

  it('refuses paths with too many URIs', () => {
    const r = parsePath(Array.from({ length: 40 }, () => 'msrp://h/s;tcp').join(' '));
    assert.ok(!r.ok && r.error.code === 'too-many-uris');
  });
});

describe('effectivePort', () => {
  it('applies the RFC 4975 default 2855 only when no port is written', () => {
    assert.equal(effectivePort(ok('msrp://h/s;tcp')), 2855);
    assert.equal(effectivePort(ok('msrp://h:12/s;tcp')), 12);
  });
});

describe('uriEquals (RFC 4975 §6.1)', () => {
  const eq = (a: string, b: string): boolean => uriEquals(ok(a), ok(b));

  it('compares scheme and host case-insensitively', () => {
    assert.ok(eq('MSRP://Example.COM:1/s;tcp', 'msrp://example.com:1/s;tcp'));
    assert.ok(!eq('msrps://h:1/s;tcp', 'msrp://h:1/s;tcp'));
  });

  it('compares session-ids case-sensitively and never matches a missing one', () => {
    assert.ok(!eq('msrp://h:1/ABC;tcp', 'msrp://h:1/abc;tcp'));
    assert.ok(!eq('msrp://h:1/abc;tcp', 'msrp://h:1;tcp'));
  });

  it('compares transports case-insensitively and never matches different ones', () => {
    assert.ok(eq('msrp://h/s;TCP', 'msrp://h/s;tcp'));
    assert.ok(!eq('msrp://h/s;ws', 'msrp://h/s;tcp'));
  });

  it('ignores userinfo and other URI parameters', () => {
    assert.ok(eq('msrp://alice@h:1/s;tcp;x=1', 'msrp://bob@h:1/s;tcp'));
  });

  it('never equates an explicit port with an absent one, not even the default 2855', () => {
    assert.ok(!eq('msrp://h:2855/s;tcp', 'msrp://h/s;tcp'));
    assert.ok(!eq('msrp://h:1/s;tcp', 'msrp://h:2/s;tcp'));
    assert.ok(eq('msrp://h/s;tcp', 'msrp://h/s;tcp'));
  });

  it('compares IP addresses by address, not by spelling', () => {
    assert.ok(eq('msrp://[::1]/s;tcp', 'msrp://[0:0:0:0:0:0:0:1]/s;tcp'));
    assert.ok(eq('msrp://[2001:DB8::A]/s;tcp', 'msrp://[2001:db8:0::a]/s;tcp'));
    assert.ok(eq('msrp://[::ffff:192.0.2.1]/s;tcp', 'msrp://[::ffff:c000:201]/s;tcp'));
  });

  it('decodes percent-encoded unreserved characters in host names before comparing', () => {
    assert.ok(eq('msrp://%65xample.com/s;tcp', 'msrp://example.com/s;tcp'));
  });
});

describe('parseIPv6', () => {
  it('expands "::" to the missing groups', () => {
    assert.deepEqual(parseIPv6('2001:db8::1'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(parseIPv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
  });
});

// ---- properties ----

const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const chars = (set: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...set), { minLength: min, maxLength: max }).map((a) => a.join(''));
const label = chars('abcdefghijklmnopqrstuvwxyz0123456789', 1, 10);
const token = chars(`${alnum}!#$%&'*+-.^_\`|~`, 1, 8);
const hex4 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));

const hostArb: fc.Arbitrary<Pick<MsrpUri, 'host' | 'hostKind'>> = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ({ host: ls.join('.') + '.example', hostKind: 'reg-name' as const })),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((o) => ({ host: o.join('.'), hostKind: 'ipv4' as const })),
  fc.array(hex4, { minLength: 8, maxLength: 8 }).map((g) => ({ host: g.join(':'), hostKind: 'ipv6' as const })),
  fc.tuple(fc.array(hex4, { maxLength: 3 }), fc.array(hex4, { maxLength: 3 })).map(([l, r]) => ({
    host: `${l.join(':')}::${r.join(':')}`,
    hostKind: 'ipv6' as const,
  })),
);

const uriArb: fc.Arbitrary<MsrpUri> = fc
  .record({
    scheme: fc.constantFrom('msrp' as const, 'msrps' as const),
    userinfo: fc.option(chars(`${alnum}-._~!$&'()*+,=:`, 1, 8), { nil: undefined }),
    host: hostArb,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    sessionId: fc.option(chars(`${alnum}-._~+=/`, 1, 24), { nil: undefined }),
    transport: fc.constantFrom('tcp', 'ws', 'TCP', 'WS', 'sctp'),
    params: fc.array(fc.record({ name: token, value: fc.option(token, { nil: undefined }) }), { maxLength: 3 }),
  })
  .map((r) => {
    const uri: { -readonly [K in keyof MsrpUri]: MsrpUri[K] } = {
      scheme: r.scheme,
      host: r.host.host,
      hostKind: r.host.hostKind,
      transport: r.transport,
      params: r.params.map((p) => (p.value === undefined ? { name: p.name } : { name: p.name, value: p.value })),
    };
    if (r.userinfo !== undefined) uri.userinfo = r.userinfo;
    if (r.port !== undefined) uri.port = r.port;
    if (r.sessionId !== undefined) uri.sessionId = r.sessionId;
    return uri;
  });

describe('properties', () => {
  it('parse(format(uri)) gives back the same URI', () => {
    fc.assert(
      fc.property(uriArb, (uri) => {
        const r = parseMsrpUri(formatMsrpUri(uri));
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        assert.deepEqual(r.uri, uri);
      }),
      { numRuns: 500 },
    );
  });

  it('format(parse(s)) gives back s for canonical URIs', () => {
    fc.assert(
      fc.property(uriArb, (uri) => {
        const s = formatMsrpUri(uri);
        const r = parseMsrpUri(s);
        assert.ok(r.ok);
        assert.equal(formatMsrpUri(r.uri), s);
      }),
    );
  });

  it('every URI equals itself and equality ignores userinfo', () => {
    fc.assert(
      fc.property(uriArb, (uri) => {
        assert.ok(uriEquals(uri, uri));
        const { userinfo: _drop, ...rest } = uri;
        assert.ok(uriEquals(uri, rest));
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        parseMsrpUri('msrp://' + s);
        parsePath(s);
      }),
      { numRuns: 2000 },
    );
  });
});
