// The two Secrets of a relay's mesh PKI (mesh-pki.ts), kept by the relay reconciler:
//  - `<relay>-mesh-ca` (Opaque: ca.crt, ca.key): created once, never mounted;
//  - `<relay>-mesh-tls` (kubernetes.io/tls: tls.crt, tls.key, ca.crt): what every replica
//    mounts; rewritten only when missing, invalid or due, since each write makes every
//    engine reload it.
// When the CA changes (its Secret deleted to rotate, or renewed near its end), replicas
// would refuse each other for as long as some pods still hold the old files. So the change
// rolls over in three writes of `<relay>-mesh-tls`, each given `rolloverMs` to reach every
// pod (kubelet refreshes mounted Secrets within about a minute, then the engine reloads):
//   1. same leaf, ca.crt = new CA + old CA  (everyone trusts both);
//   2. new leaf from the new CA, ca.crt still both;
//   3. ca.crt = new CA only.
// The time of the last step is kept in an annotation on the Secret.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Logger } from '../telemetry/logger.ts';
import type { MsrpRelay } from './api/msrprelay.ts';
import type { EventRecorder } from './events.ts';
import { ApiError, isConflict } from './kube/client.ts';
import type { KubeClient } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import {
  issueMeshCertificate, meshCaProblem, meshCertificateProblem, newMeshCa, renewalTime, splitPemBundle,
} from './mesh-pki.ts';
import type { PemPair } from './mesh-pki.ts';
import { adminDnsNames, FIELD_MANAGER, meshDnsNames, names, objectMeta } from './render/common.ts';
import type { SecretObject, SecretReader } from './secret-cache.ts';

/** On `<relay>-mesh-tls`: when ca.crt last gained or was about to lose a CA (RFC 3339). */
export const ROLLOVER_ANNOTATION = 'msrp.dev/mesh-ca-rollover-since';
export const DEFAULT_ROLLOVER_MS = 5 * 60_000;
const TLS_TYPE = 'kubernetes.io/tls';

/** What `<relay>-mesh-tls` holds, decoded. */
export interface MeshTlsState {
  certPem: string;
  keyPem: string;
  /** ca.crt: the trusted CA certificates, current first. */
  caPems: string[];
  rolloverSince?: Date;
}

export type MeshTlsPlan =
  | { action: 'keep'; nextCheck: Date }
  | { action: 'write'; reason: string; issue: boolean; caPems: string[]; rolloverSince?: Date };

const fingerprint = (pem: string): string => {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return `unreadable:${pem.length}`;
  }
};

function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** CA certificates still worth trusting: readable, a CA, not expired, one of each. */
function liveCas(pems: string[], now: Date, except: string): string[] {
  const seen = new Set([except]);
  return pems.filter((p) => {
    const f = fingerprint(p);
    if (seen.has(f)) return false;
    seen.add(f);
    try {
      const c = new X509Certificate(p);
      return c.ca && new Date(c.validTo).getTime() > now.getTime();
    } catch {
      return false;
    }
  });
}

/**
 * What to do with `<relay>-mesh-tls` given what it holds (undefined: missing) and the
 * current CA. Pure; `keep` says when to look again (renewal, or the next rollover step).
 */
export function planMeshTls(state: MeshTlsState | undefined, caCertPem: string, dnsNames: string[], now: Date, rolloverMs: number): MeshTlsPlan {
  const issue = (reason: string, others: string[] = []): MeshTlsPlan =>
    others.length > 0 ? { action: 'write', reason, issue: true, caPems: [caCertPem, ...others], rolloverSince: now } : { action: 'write', reason, issue: true, caPems: [caCertPem] };
  if (!state) return issue('missing');
  if (!keyMatches(state.certPem, state.keyPem)) return issue('tls.crt and tls.key are not a readable pair');
  const current = fingerprint(caCertPem);
  const hasCurrent = state.caPems.some((p) => fingerprint(p) === current);
  const others = liveCas(state.caPems, now, current);
  const waitUntil = state.rolloverSince ? new Date(state.rolloverSince.getTime() + rolloverMs) : undefined;
  const waiting = waitUntil !== undefined && waitUntil.getTime() > now.getTime();

  const problem = meshCertificateProblem(state.certPem, caCertPem, dnsNames, now);
  if (problem === undefined) {
    // Signed by the CA, yet the pods do not trust it (ca.crt edited): no one can be worse off.
    if (!hasCurrent) return { action: 'write', reason: 'ca.crt lacks the mesh CA', issue: false, caPems: [caCertPem] };
    if (others.length === 0) return { action: 'keep', nextCheck: renewalTime(state.certPem) };
    // Step 3: every pod has the new leaf; stop trusting the old CA once they all do.
    if (waiting) return { action: 'keep', nextCheck: waitUntil };
    return { action: 'write', reason: 'mesh CA rollover: old CA removed from ca.crt', issue: false, caPems: [caCertPem] };
  }
  // Signed by an older CA the pods trust, and fine otherwise: the CA changed.
  const signer = others.find((o) => meshCertificateProblem(state.certPem, o, dnsNames, now) === undefined);
  if (signer !== undefined) {
    if (!hasCurrent) {
      // Step 1: trust the new CA everywhere before any pod presents a certificate from it.
      return { action: 'write', reason: 'mesh CA rollover: new CA added to ca.crt', issue: false, caPems: [caCertPem, ...others], rolloverSince: now };
    }
    if (waiting) return { action: 'keep', nextCheck: waitUntil };
    // Step 2: both CAs are trusted everywhere; switch the leaf.
    return { action: 'write', reason: 'mesh CA rollover: certificate from the new CA', issue: true, caPems: [caCertPem, ...others], rolloverSince: now };
  }
  // Due, expired, wrong names, or from a CA nobody trusts any more: a new one now. Keep
  // trusting the CAs the pods use today for a while, which helps when one still signed it.
  return issue(problem, others);
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

function readTlsState(s: SecretObject | undefined): MeshTlsState | undefined {
  const cert = unb64(s?.data?.['tls.crt']);
  const key = unb64(s?.data?.['tls.key']);
  if (!s || cert === undefined || key === undefined || s.type !== TLS_TYPE) return undefined;
  const since = s.metadata?.annotations?.[ROLLOVER_ANNOTATION];
  const sinceDate = since ? new Date(since) : undefined;
  return {
    certPem: cert,
    keyPem: key,
    caPems: splitPemBundle(unb64(s.data?.['ca.crt']) ?? ''),
    ...(sinceDate && !Number.isNaN(sinceDate.getTime()) ? { rolloverSince: sinceDate } : {}),
  };
}

/** API errors can quote what was sent: never let key material reach a log line or a condition. */
export function redact(message: string): string {
  return message.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[redacted]').replace(/[A-Za-z0-9+/=]{64,}/g, '[redacted]');
}

export interface MeshSecretsDeps {
  client: KubeClient;
  /** The operator's Secret cache (secret-cache.ts): read first, so a steady state costs no API call. */
  secrets: SecretReader;
  events: EventRecorder;
  logger: Logger;
  /** Time for a changed `<relay>-mesh-tls` to reach every pod before the next rollover step. */
  rolloverMs?: number;
}

export interface MeshSecretsResult {
  /** When to look again (renewal or the next rollover step). */
  nextCheck: Date;
}

export class MeshSecretsError extends Error {
  constructor(message: string) {
    super(redact(message));
    this.name = 'MeshSecretsError';
  }
}

/** Reads a Secret from the cache, or from the API server when the cache has none or `fresh`. */
async function readSecret(d: MeshSecretsDeps, namespace: string, name: string, fresh: boolean): Promise<SecretObject | undefined> {
  const cached = fresh ? undefined : await d.secrets.read(name, namespace);
  return cached ?? d.client.getOptional<SecretObject>(RESOURCES.secret, namespace, name);
}

async function ensureCa(d: MeshSecretsDeps, r: MsrpRelay, now: Date, log: Logger): Promise<PemPair> {
  const namespace = r.metadata.namespace!;
  const name = names.meshCaSecret(r);
  // Not ours to overwrite silently when it cannot sign: someone may have put a CA there on purpose.
  const usable = (s: SecretObject): PemPair => {
    const certPem = unb64(s.data?.['ca.crt']);
    const keyPem = unb64(s.data?.['ca.key']);
    const problem = certPem === undefined || keyPem === undefined ? 'no ca.crt or ca.key' : meshCaProblem({ certPem, keyPem });
    if (problem !== undefined) throw new MeshSecretsError(`mesh CA secret "${name}": ${problem}; delete it to have a new CA made`);
    return { certPem: certPem!, keyPem: keyPem! };
  };
  const secretOf = (ca: PemPair, resourceVersion?: string): SecretObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...objectMeta(r, name, 'mesh'), ...(resourceVersion ? { resourceVersion } : {}) },
    type: 'Opaque',
    data: { 'ca.crt': b64(ca.certPem), 'ca.key': b64(ca.keyPem) },
  });
  const commonName = `${r.metadata.name}.${namespace} mesh CA`;

  const existing = await readSecret(d, namespace, name, false);
  if (existing) {
    const ca = usable(existing);
    if (renewalTime(ca.certPem).getTime() > now.getTime()) return ca;
    // Near its end: a new CA, under the resourceVersion read (a stale one fails and retries).
    const next = newMeshCa(commonName, now);
    await d.client.replace(RESOURCES.secret, secretOf(next, existing.metadata?.resourceVersion), { fieldManager: FIELD_MANAGER });
    log.info({ kind: 'Secret', object: name, notAfter: new X509Certificate(next.certPem).validTo }, 'mesh CA renewed');
    d.events.record(r, 'Normal', 'MeshCARenewed', 'RenewMeshCA', `secret "${name}": the mesh CA was near its end; a new one rolls out`);
    return next;
  }
  const ca = newMeshCa(commonName, now);
  try {
    // Create-only: a CA is never overwritten by a reconcile that read too early.
    await d.client.create(RESOURCES.secret, secretOf(ca), { fieldManager: FIELD_MANAGER });
  } catch (e) {
    if (!isConflict(e)) throw e;
    return usable(await d.client.get<SecretObject>(RESOURCES.secret, namespace, name));
  }
  log.info({ kind: 'Secret', object: name, notAfter: new X509Certificate(ca.certPem).validTo }, 'mesh CA created');
  d.events.record(r, 'Normal', 'MeshCACreated', 'CreateMeshCA', `secret "${name}": a new mesh CA`);
  return ca;
}

/** A leaf certificate Secret the operator keeps from the mesh CA: the mesh's, or the admin API's. */
interface LeafSpec {
  readonly name: string;
  readonly dnsNames: string[];
  /** In log lines, events and the component label: "mesh" or "admin". */
  readonly component: 'mesh' | 'admin';
}

/**
 * Makes sure the mesh Secrets of `r` exist and are valid, writing only what must change: the
 * CA, the mesh certificate every replica mounts, and the admin API's certificate (for the
 * admin Service's names, docs/security.md "Admin API"), both signed by that CA.
 * Throws MeshSecretsError (or an ApiError) when it cannot; messages carry no key material.
 */
export async function ensureMeshSecrets(d: MeshSecretsDeps, r: MsrpRelay, now: Date): Promise<MeshSecretsResult> {
  try {
    const ca = await ensureCa(d, r, now, d.logger);
    const mesh = await ensureLeaf(d, r, ca, now, { name: names.meshTlsSecret(r), dnsNames: meshDnsNames(r), component: 'mesh' });
    const admin = await ensureLeaf(d, r, ca, now, { name: names.adminTlsSecret(r), dnsNames: adminDnsNames(r), component: 'admin' });
    return { nextCheck: mesh.getTime() <= admin.getTime() ? mesh : admin };
  } catch (e) {
    if (e instanceof MeshSecretsError) throw e;
    const status = e instanceof ApiError ? ` (${e.statusCode}${e.reason ? ` ${e.reason}` : ''})` : '';
    throw new MeshSecretsError(`mesh secrets: ${(e as Error).message}${status}`);
  }
}

async function ensureLeaf(d: MeshSecretsDeps, r: MsrpRelay, ca: PemPair, now: Date, spec: LeafSpec): Promise<Date> {
  const log = d.logger;
  const rolloverMs = d.rolloverMs ?? DEFAULT_ROLLOVER_MS;
  const namespace = r.metadata.namespace!;
  const { name, dnsNames, component } = spec;
  let existing = await readSecret(d, namespace, name, false);
  let plan = planMeshTls(readTlsState(existing), ca.certPem, dnsNames, now, rolloverMs);
  if (plan.action === 'write') {
    // The cache may lag behind our own last write: decide again on what the API server holds.
    existing = await readSecret(d, namespace, name, true);
    plan = planMeshTls(readTlsState(existing), ca.certPem, dnsNames, now, rolloverMs);
  }
  if (plan.action === 'keep') return plan.nextCheck;

  const state = readTlsState(existing);
  const leaf = plan.issue || !state ? issueMeshCertificate(ca, dnsNames, now) : { certPem: state.certPem, keyPem: state.keyPem };
  const secret: SecretObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(r, name, component, plan.rolloverSince ? { [ROLLOVER_ANNOTATION]: plan.rolloverSince.toISOString() } : undefined),
    type: TLS_TYPE,
    data: { 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem), 'ca.crt': b64(plan.caPems.join('')) },
  };
  // A Secret's type cannot change, and the operator may not delete Secrets (RBAC): say so.
  if (existing && existing.type !== TLS_TYPE) {
    throw new MeshSecretsError(`secret "${name}" has type ${existing.type ?? '(none)'}, not ${TLS_TYPE}: delete it, the operator makes the ${component} certificate`);
  }
  await d.client.apply(RESOURCES.secret, secret, { fieldManager: FIELD_MANAGER, force: true });

  const cert = new X509Certificate(leaf.certPem);
  const what = plan.issue ? `${component} certificate issued` : `${component} ca.crt updated`;
  log.info({ kind: 'Secret', object: name, reason: plan.reason, serial: cert.serialNumber, notAfter: cert.validTo, cas: plan.caPems.length }, what);
  const noun = component === 'mesh' ? 'Mesh' : 'Admin';
  d.events.record(
    r,
    'Normal',
    plan.issue ? `${noun}CertificateIssued` : 'MeshCAUpdated',
    plan.issue ? `Issue${noun}Certificate` : 'UpdateMeshCA',
    `secret "${name}": ${plan.reason}; ${plan.issue ? `serial ${cert.serialNumber}, valid until ${cert.validTo}` : `ca.crt holds ${plan.caPems.length} CA(s)`}`,
  );
  const after = planMeshTls(
    { certPem: leaf.certPem, keyPem: leaf.keyPem, caPems: plan.caPems, ...(plan.rolloverSince ? { rolloverSince: plan.rolloverSince } : {}) },
    ca.certPem, dnsNames, now, rolloverMs,
  );
  // A write that leaves more to do (a rollover step) comes back as soon as its wait is over.
  return after.action === 'keep' ? after.nextCheck : new Date(now.getTime() + rolloverMs);
}
