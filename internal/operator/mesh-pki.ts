// The mesh PKI: a private CA per MsrpRelay and the one certificate every replica presents
// on the mesh port, made with node:crypto alone (the operator image has no openssl, and no
// public ACME issuer signs cluster-internal names). X.509 v3 per RFC 5280, ECDSA P-256
// with SHA-256 (RFC 5758 §3.2), encoded by asn1-der.ts. Pure: time comes in as `now`.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  bitString, boolean, children, contextConstructed, contextPrimitive, namedBits, octetString, oid, readTlv, sequence, set,
  TAG, unsignedInteger, utf8String, x509Time,
} from './asn1-der.ts';

const DAY_MS = 86_400_000;
export const MESH_CA_DAYS = 3650;
export const MESH_LEAF_DAYS = 365;
/** Renew when less than this remains (or a third of the lifetime, when that is shorter). */
export const MESH_RENEW_BEFORE_MS = 30 * DAY_MS;
/** notBefore this far in the past: a replica whose clock runs behind still accepts a new certificate. */
export const CLOCK_SKEW_MS = 5 * 60_000;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** RFC 5280 §4.2.1.3 bit numbers. */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** RFC 5758 §3.2: ecdsa-with-SHA256 with the parameters field absent. */
const signatureAlgorithm = () => sequence(oid(OID.ecdsaWithSha256));

/** RFC 5280 §4.1.2.4/§4.1.2.6: one RDN per attribute; UTF8String (§4.1.2.4 "MUST use UTF8String" for new certificates). */
function name(attrs: [string, string][]): Buffer {
  return sequence(...attrs.map(([type, value]) => set(sequence(oid(type), utf8String(value)))));
}

/** RFC 5280 §4.1: Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bits (the uncompressed EC point). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || !jwk.x || !jwk.y) throw new Error('mesh PKI: not an EC public key');
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random ones, top bit clear and the next set so DER keeps all 16. */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

interface TbsInput {
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
}

/** RFC 5280 §4.1: TBSCertificate, signed, wrapped as Certificate. */
function signCertificate(t: TbsInput, issuerKey: KeyObject): Buffer {
  const tbs = sequence(
    contextConstructed(0, unsignedInteger(2)), // version v3 (§4.1.2.1)
    unsignedInteger(serialNumber()),
    signatureAlgorithm(),
    t.issuer,
    sequence(x509Time(t.notBefore), x509Time(t.notAfter)),
    t.subject,
    t.spki,
    contextConstructed(3, sequence(...t.extensions)),
  );
  const signature = sign('sha256', tbs, { key: issuerKey, dsaEncoding: 'der' });
  return sequence(tbs, signatureAlgorithm(), bitString(signature));
}

function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

const whole = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** A self-signed CA that signs mesh certificates only (pathLenConstraint 0). */
export function newMeshCa(commonName: string, now: Date, days = MESH_CA_DAYS): PemPair {
  const { privateKey, publicKey, spki } = newKeyPair();
  const subject = name([[OID.organization, 'msrp-k8s'], [OID.commonName, commonName]]);
  const der = signCertificate({
    issuer: subject,
    subject,
    notBefore: whole(now.getTime() - CLOCK_SKEW_MS),
    notAfter: whole(now.getTime() + days * DAY_MS),
    spki,
    extensions: [
      // §4.2.1.9: cA TRUE, critical in CA certificates; pathLen 0: no intermediate below it.
      extension(OID.basicConstraints, true, sequence(boolean(true), unsignedInteger(0))),
      // §4.2.1.3: keyCertSign (and cRLSign), critical.
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      // §4.2.1.2: MUST appear in CA certificates.
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
    ],
  }, privateKey);
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The subject Name of a certificate as its exact DER bytes (a leaf's issuer must match it octet for octet, §4.1.2.4). */
function subjectDer(cert: X509Certificate): Buffer {
  const raw = cert.raw;
  const tbs = children(raw, readTlv(raw, 0))[0]!;
  const fields = children(raw, tbs);
  // version [0] is present in v3; then serial, signature, issuer, validity, subject.
  const at = fields[0]!.tag === 0xa0 ? 5 : 4;
  const subject = fields[at];
  if (!subject || subject.tag !== TAG.sequence) throw new Error('mesh PKI: cannot read the CA subject');
  return raw.subarray(subject.start, subject.end);
}

/**
 * A certificate for the mesh: both TLS roles (every replica is server and client), the
 * given DNS names, signed by `ca`. Never valid past the CA (§6.1.3: the chain would fail).
 */
export function issueMeshCertificate(ca: PemPair, dnsNames: string[], now: Date, days = MESH_LEAF_DAYS): PemPair {
  if (dnsNames.length === 0) throw new Error('mesh PKI: a certificate needs at least one DNS name');
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  if (!caCert.checkPrivateKey(caKey)) throw new Error('mesh PKI: the CA key does not match the CA certificate');
  const { privateKey, publicKey, spki } = newKeyPair();
  const notAfter = Math.min(now.getTime() + days * DAY_MS, new Date(caCert.validTo).getTime());
  const der = signCertificate({
    issuer: subjectDer(caCert),
    subject: name([[OID.organization, 'msrp-k8s'], [OID.commonName, dnsNames[0]!]]),
    notBefore: whole(now.getTime() - CLOCK_SKEW_MS),
    notAfter: whole(notAfter),
    spki,
    extensions: [
      extension(OID.basicConstraints, true, sequence()), // §4.2.1.9: cA FALSE (the DEFAULT, so encoded empty)
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])), // ECDHE + ECDSA: signing only
      extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))), // §4.2.1.12
      // §4.2.1.6: dNSName is [2] IA5String.
      extension(OID.subjectAltName, false, sequence(...dnsNames.map((n) => contextPrimitive(2, Buffer.from(n, 'ascii'))))),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
      // §4.2.1.1: keyIdentifier [0] IMPLICIT, the CA's subjectKeyIdentifier.
      extension(OID.authorityKeyIdentifier, false, sequence(contextPrimitive(0, keyIdentifier(caCert.publicKey)))),
    ],
  }, caKey);
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** How long before notAfter a certificate is due: 30 days, or a third of its lifetime when shorter. */
export function renewBeforeMs(cert: X509Certificate): number {
  const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
  return Math.min(MESH_RENEW_BEFORE_MS, Math.floor(lifetime / 3));
}

/** When the certificate becomes due for renewal. */
export function renewalTime(certPem: string): Date {
  const cert = new X509Certificate(certPem);
  return new Date(new Date(cert.validTo).getTime() - renewBeforeMs(cert));
}

/** The DNS names of a certificate's subjectAltName. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4));
}

/**
 * Why a mesh certificate must be replaced, or undefined when it is fine: unreadable,
 * not signed by that CA, naming other hosts, not a leaf for both TLS roles, not yet valid
 * or expired, or in its renewal window.
 */
export function meshCertificateProblem(certPem: string, caPem: string, dnsNames: string[], now: Date): string | undefined {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    ca = new X509Certificate(caPem);
  } catch (e) {
    return `unreadable: ${(e as Error).message}`;
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the mesh CA';
  if (cert.ca) return 'is a CA certificate';
  const want = [...dnsNames].sort();
  const have = dnsNamesOf(cert).sort();
  if (want.join(',') !== have.join(',')) return `names ${have.join(', ') || '(none)'}, wants ${want.join(', ')}`;
  const usage = cert.keyUsage ?? [];
  if (!usage.includes(OID.serverAuth) || !usage.includes(OID.clientAuth)) return 'lacks serverAuth or clientAuth';
  const t = now.getTime();
  if (t < new Date(cert.validFrom).getTime()) return `not valid before ${cert.validFrom}`;
  if (t >= new Date(cert.validTo).getTime()) return `expired ${cert.validTo}`;
  if (t >= renewalTime(certPem).getTime()) return `due for renewal (expires ${cert.validTo})`;
  return undefined;
}

export function meshCertificateNeedsRenewal(certPem: string, caPem: string, dnsNames: string[], now: Date): boolean {
  return meshCertificateProblem(certPem, caPem, dnsNames, now) !== undefined;
}

/** Why a CA pair cannot sign (unreadable, key mismatch, not a CA), or undefined. */
export function meshCaProblem(ca: PemPair): string | undefined {
  try {
    const cert = new X509Certificate(ca.certPem);
    if (!cert.ca) return 'ca.crt is not a CA certificate';
    if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem))) return 'ca.key does not match ca.crt';
    return undefined;
  } catch (e) {
    return `unreadable: ${(e as Error).message}`;
  }
}

/** Splits a PEM bundle into its certificates (each ending with a newline). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}
