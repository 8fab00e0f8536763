import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkServerIdentity, connect, createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { bitString, namedBits, oid, printableString, unsignedInteger, utf8String, x509Time } from './asn1-der.ts';
import {
  issueMeshCertificate, meshCaProblem, meshCertificateNeedsRenewal, meshCertificateProblem, newMeshCa, renewalTime, splitPemBundle,
} from './mesh-pki.ts';

const NOW = new Date('2026-12-06T01:00:00Z');
const DAY = 86_400_000;
const NAMES = ['*.relay-mesh.ns.svc.cluster.local', '*.relay-mesh.ns.svc'];
const ca = newMeshCa('relay.ns mesh CA', NOW);
const leaf = issueMeshCertificate(ca, NAMES, NOW);

describe('ASN.1 DER writer', () => {
  it('encodes OIDs, minimal positive INTEGERs, named bits and both X.509 time forms as X.690 says', () => {
    assert.equal(oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
    assert.equal(oid('2.5.29.17').toString('hex'), '0603551d11');
    assert.equal(unsignedInteger(2).toString('hex'), '020102');
    assert.equal(unsignedInteger(128).toString('hex'), '02020080', 'a set top bit gets a leading zero');
    assert.equal(unsignedInteger(Buffer.from([0, 0, 5])).toString('hex'), '020105', 'leading zeros dropped');
    assert.equal(namedBits([0]).toString('hex'), '03020780', 'digitalSignature');
    assert.equal(namedBits([5, 6]).toString('hex'), '03020106', 'keyCertSign + cRLSign');
    assert.equal(bitString(Buffer.from([1, 2])).toString('hex'), '0303000102');
    assert.equal(printableString('US').toString('hex'), '13025553');
    assert.throws(() => printableString('a@b'), /not a PrintableString/);
    assert.equal(utf8String('é').toString('hex'), '0c02c3a9');
    assert.equal(unsignedInteger(Buffer.alloc(200, 1)).subarray(0, 4).toString('hex'), '0281c801', 'long-form length');
    assert.equal(x509Time(new Date('2049-12-31T23:59:59.999Z')).toString('ascii', 2), '491231235959Z');
    assert.equal(x509Time(new Date('2050-01-01T00:00:00Z')).toString('ascii', 2), '20500101000000Z');
    assert.equal(x509Time(new Date('2050-01-01T00:00:00Z'))[0], 0x18, 'GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)');
  });
});

describe('mesh PKI certificates', () => {
  it('the CA is a self-signed CA certificate valid for 10 years', () => {
    const c = new X509Certificate(ca.certPem);
    assert.equal(c.ca, true);
    assert.equal(c.subject, 'O=msrp-k8s\nCN=relay.ns mesh CA');
    assert.equal(c.issuer, c.subject);
    assert.ok(c.verify(c.publicKey), 'self-signed');
    assert.equal(new Date(c.validFrom).getTime(), NOW.getTime() - 5 * 60_000, 'notBefore allows for clock skew');
    assert.equal(new Date(c.validTo).getTime(), NOW.getTime() + 3650 * DAY);
    assert.match(c.serialNumber, /^[0-7][0-9A-F]{31}$/, '16 octets, positive');
    assert.equal(meshCaProblem(ca), undefined);
    assert.equal(meshCaProblem({ certPem: ca.certPem, keyPem: leaf.keyPem }), 'ca.key does not match ca.crt');
    assert.equal(meshCaProblem({ certPem: leaf.certPem, keyPem: leaf.keyPem }), 'ca.crt is not a CA certificate');
  });

  it('the leaf names the mesh, serves both TLS roles, is signed by the CA and valid for a year', () => {
    const c = new X509Certificate(leaf.certPem);
    assert.equal(c.ca, false);
    assert.equal(c.issuer, new X509Certificate(ca.certPem).subject);
    assert.equal(c.subjectAltName, 'DNS:*.relay-mesh.ns.svc.cluster.local, DNS:*.relay-mesh.ns.svc');
    assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(c.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(c.verify(new X509Certificate(ca.certPem).publicKey));
    assert.ok(!c.verify(new X509Certificate(newMeshCa('other', NOW).certPem).publicKey));
    assert.equal(new Date(c.validTo).getTime(), NOW.getTime() + 365 * DAY);
    assert.notEqual(c.serialNumber, new X509Certificate(issueMeshCertificate(ca, NAMES, NOW).certPem).serialNumber, 'random serials');
  });

  it('checkServerIdentity accepts every replica of the relay in its namespace, and no other', () => {
    const peer = new X509Certificate(leaf.certPem).toLegacyObject();
    assert.equal(checkServerIdentity('relay-2.relay-mesh.ns.svc.cluster.local', peer), undefined);
    assert.equal(checkServerIdentity('relay-0.relay-mesh.ns.svc', peer), undefined);
    assert.ok(checkServerIdentity('relay-2.relay-mesh.other.svc.cluster.local', peer) instanceof Error);
    assert.ok(checkServerIdentity('relay-mesh.ns.svc.cluster.local', peer) instanceof Error, 'a wildcard covers one label');
  });

  it('a leaf never outlives its CA', () => {
    const shortCa = newMeshCa('short', NOW, 30);
    const c = new X509Certificate(issueMeshCertificate(shortCa, NAMES, NOW).certPem);
    assert.equal(c.validTo, new X509Certificate(shortCa.certPem).validTo);
  });

  it('needs renewal when due (30 days, or a third of a short lifetime), expired, naming other hosts, or from another CA', () => {
    assert.equal(meshCertificateProblem(leaf.certPem, ca.certPem, NAMES, NOW), undefined);
    assert.equal(meshCertificateProblem(leaf.certPem, ca.certPem, [...NAMES].reverse(), NOW), undefined, 'order does not matter');
    assert.equal(meshCertificateNeedsRenewal(leaf.certPem, ca.certPem, NAMES, new Date(NOW.getTime() + 334 * DAY)), false);
    assert.match(meshCertificateProblem(leaf.certPem, ca.certPem, NAMES, new Date(NOW.getTime() + 336 * DAY))!, /^due for renewal/);
    assert.equal(renewalTime(leaf.certPem).getTime(), NOW.getTime() + 335 * DAY);
    assert.match(meshCertificateProblem(leaf.certPem, ca.certPem, NAMES, new Date(NOW.getTime() + 366 * DAY))!, /^expired/);
    assert.match(meshCertificateProblem(leaf.certPem, ca.certPem, NAMES, new Date(NOW.getTime() - DAY))!, /^not valid before/);
    assert.match(meshCertificateProblem(leaf.certPem, ca.certPem, ['*.relay-mesh.other.svc'], NOW)!, /^names /);
    assert.equal(meshCertificateProblem(leaf.certPem, newMeshCa('other', NOW).certPem, NAMES, NOW), 'not signed by the mesh CA');
    assert.match(meshCertificateProblem('garbage', ca.certPem, NAMES, NOW)!, /^unreadable/);
    const short = issueMeshCertificate(ca, NAMES, NOW, 9);
    // Its lifetime counts from notBefore (5 minutes of clock skew before NOW): a third of 9 days + 5 min.
    assert.equal(renewalTime(short.certPem).getTime(), NOW.getTime() + 9 * DAY - (9 * DAY + 5 * 60_000) / 3);
  });

  it('splits a PEM bundle into certificates', () => {
    const other = newMeshCa('other', NOW).certPem;
    assert.deepEqual(splitPemBundle(ca.certPem + other), [ca.certPem, other]);
    assert.deepEqual(splitPemBundle(''), []);
  });
});

describe('mesh PKI certificates through openssl', () => {
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  const skip = !hasOpenssl && process.env.CI !== 'true' ? 'openssl not on PATH (apt-get install openssl)' : false;
  const dir = mkdtempSync(path.join(tmpdir(), 'mesh-pki-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('openssl x509 reads both certificates and openssl verify accepts the chain with serverAuth and clientAuth', { skip }, () => {
    const caFile = path.join(dir, 'ca.crt');
    const leafFile = path.join(dir, 'tls.crt');
    writeFileSync(caFile, ca.certPem);
    writeFileSync(leafFile, leaf.certPem);
    const caText = execFileSync('openssl', ['x509', '-noout', '-text', '-in', caFile], { encoding: 'utf8' });
    assert.match(caText, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(caText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(caText, /Subject Key Identifier/);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', leafFile], { encoding: 'utf8' });
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /DNS:\*\.relay-mesh\.ns\.svc\.cluster\.local, DNS:\*\.relay-mesh\.ns\.svc/);
    assert.match(text, /Authority Key Identifier/);
    // NOW is in the past of the real clock once the test runs for a while: check at NOW.
    const at = String(Math.floor(NOW.getTime() / 1000) + 60);
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync('openssl', ['verify', '-attime', at, '-purpose', purpose, '-CAfile', caFile, leafFile], { encoding: 'utf8' });
      assert.equal(out.trim(), `${leafFile}: OK`);
    }
    const otherFile = path.join(dir, 'other.crt');
    writeFileSync(otherFile, newMeshCa('other', NOW).certPem);
    const refused = spawnSync('openssl', ['verify', '-attime', at, '-CAfile', otherFile, leafFile], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
  });
});

describe('mesh PKI certificates in a mutual-TLS handshake', () => {
  const now = new Date();
  const meshCa = newMeshCa('relay.ns mesh CA', now);
  const server = issueMeshCertificate(meshCa, NAMES, now);
  const client = issueMeshCertificate(meshCa, NAMES, now);

  /** A mesh-like listener: only client certificates chaining to the mesh CA. */
  async function listen(): Promise<{ port: number; peers: string[]; close: () => Promise<void> }> {
    const peers: string[] = [];
    const srv = createServer({ cert: server.certPem, key: server.keyPem, ca: meshCa.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
      peers.push(s.getPeerCertificate().subjectaltname ?? '');
      s.end('ok');
    });
    srv.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { port: (srv.address() as AddressInfo).port, peers, close: () => new Promise((r) => srv.close(() => r())) };
  }

  function dial(port: number, pair: { certPem: string; keyPem: string }, caPem: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const host = 'relay-1.relay-mesh.ns.svc.cluster.local';
      const s: TLSSocket = connect({
        host: '127.0.0.1', port, servername: host, cert: pair.certPem, key: pair.keyPem, ca: caPem, rejectUnauthorized: true,
        checkServerIdentity: (_h, cert) => checkServerIdentity(host, cert),
      });
      let data = '';
      s.setEncoding('utf8').on('data', (d: string) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
  }

  it('two issued leaves complete a mutual-TLS handshake on loopback', async () => {
    const l = await listen();
    try {
      assert.equal(await dial(l.port, client, meshCa.certPem), 'ok');
      assert.deepEqual(l.peers, ['DNS:*.relay-mesh.ns.svc.cluster.local, DNS:*.relay-mesh.ns.svc']);
    } finally {
      await l.close();
    }
  });

  it('a leaf from another CA is refused by the mesh listener', async () => {
    const l = await listen();
    try {
      const otherCa = newMeshCa('intruder CA', now);
      const intruder = issueMeshCertificate(otherCa, NAMES, now);
      // TLS 1.3: the client may finish its side before the server's alert arrives, so the
      // refusal shows as an error or as a connection closed without the server's 'ok'.
      const got = await dial(l.port, intruder, meshCa.certPem).catch((e: Error) => e);
      assert.notEqual(got, 'ok');
      assert.deepEqual(l.peers, [], 'never reached the application');
    } finally {
      await l.close();
    }
  });
});
