import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMsrpUri, type MsrpUri } from '../msrp/uri.ts';
import { localHostsOf, RelayLocalIdentity, type ListeningPort } from './local-identity.ts';

function uri(raw: string): MsrpUri {
  const r = parseMsrpUri(raw);
  assert.ok(r.ok, raw);
  return r.uri;
}

function options(over: { publicPort?: number; aliases?: string[]; realmHosts?: string[] } = {}) {
  return {
    publicHost: 'relay.example.com',
    ...(over.publicPort !== undefined ? { publicPort: over.publicPort } : {}),
    aliases: over.aliases ?? [],
    realms: { default: 'example.com', byHost: (over.realmHosts ?? []).map((host) => ({ host, realm: host })) },
  };
}

describe('RelayLocalIdentity', () => {
  it('names this relay by its public host on a listener port, whatever the case or session id', () => {
    const id = new RelayLocalIdentity(options(), [{ port: 2855, secure: true }]);
    assert.equal(id.isLocal(uri('msrps://relay.example.com:2855/r0-abc;tcp')), true);
    assert.equal(id.isLocal(uri('msrps://RELAY.Example.COM:2855;tcp')), true);
    assert.equal(id.isLocal(uri('msrps://relay.example.com:2856/r0-abc;tcp')), false, 'another port');
    assert.equal(id.isLocal(uri('msrps://bob.example.net:2855/x;tcp')), false, 'another host');
  });

  it('names this relay by host alone in a URI without port and session, as an AUTH found by SRV addresses it (RFC 4976 §8)', () => {
    const id = new RelayLocalIdentity(options({ publicPort: 9000, aliases: ['example.com'] }), [{ port: 9000, secure: true }]);
    assert.equal(id.isLocal(uri('msrps://example.com;tcp')), true, 'the domain, no port');
    assert.equal(id.isLocal(uri('msrps://relay.example.com;tcp')), true, 'the public host, no port');
    assert.equal(id.isLocal(uri('msrps://example.com/s1;tcp')), false, 'a session URI without a port means 2855, not ours');
    assert.equal(id.isLocal(uri('msrps://example.com:2855;tcp')), false, 'an explicit port that is not ours');
    assert.equal(id.isLocal(uri('msrps://other.example.net;tcp')), false, 'another host');
  });

  it('takes aliases and the hosts mapped to realms (RFC 4976 §5.1), IPv6 literals included', () => {
    const id = new RelayLocalIdentity(options({ aliases: ['10.0.0.7', '2001:db8::7'], realmHosts: ['chat.example.org'] }), [{ port: 2855, secure: true }]);
    assert.equal(id.isLocal(uri('msrps://10.0.0.7:2855/s;tcp')), true);
    assert.equal(id.isLocal(uri('msrps://[2001:db8::7]:2855/s;tcp')), true);
    assert.equal(id.isLocal(uri('msrps://chat.example.org:2855/s;tcp')), true);
    assert.deepEqual([...localHostsOf(options({ aliases: ['Alias.Example.com'] }))].sort(), ['alias.example.com', 'relay.example.com']);
  });

  it('the public port is the configured one, else the first TLS listener, else the first listener', () => {
    assert.equal(new RelayLocalIdentity(options({ publicPort: 443 }), [{ port: 2855, secure: true }]).publicPort(), 443);
    assert.equal(new RelayLocalIdentity(options(), [{ port: 2856, secure: false }, { port: 2855, secure: true }]).publicPort(), 2855);
    assert.equal(new RelayLocalIdentity(options(), [{ port: 2856, secure: false }]).publicPort(), 2856);
    assert.equal(new RelayLocalIdentity(options(), []).publicPort(), 2855);
  });

  it('counts the public port and every listener as ours, including listeners bound later', () => {
    const listeners: ListeningPort[] = [{ port: 2855, secure: true }];
    const id = new RelayLocalIdentity(options({ publicPort: 443 }), listeners);
    assert.equal(id.isLocal(uri('msrps://relay.example.com:443/s;tcp')), true);
    assert.equal(id.isLocalPort(2857), false);
    listeners.push({ port: 2857, secure: false });
    assert.equal(id.isLocalPort(2857), true);
  });

  it('takes new aliases after a live reconfigure, and forgets the old ones', () => {
    const o = options({ aliases: ['old.example.com'] });
    const id = new RelayLocalIdentity(o, [{ port: 2855, secure: true }]);
    const oldUri = uri('msrps://old.example.com:2855/s;tcp');
    const newUri = uri('msrps://new.example.com:2855/s;tcp');
    assert.equal(id.isLocal(oldUri), true);
    assert.equal(id.isLocal(newUri), false);
    o.aliases = ['new.example.com'];
    id.reconfigured();
    assert.equal(id.isLocal(oldUri), false);
    assert.equal(id.isLocal(newUri), true);
  });
});
