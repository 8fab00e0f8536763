// What the MsrpRelay's extra conditions are computed from (docs/relay.md "Status"): the
// certificate in the TLS Secret (parsed here: notBefore/notAfter), the public Service's
// load-balancer address, and the database as the relay's admin API sees it (its /readyz
// pings the database). Pure functions from observations to conditions live in
// relay-status.ts; this file gathers the observations.
import { X509Certificate } from 'node:crypto';
import type { V1Service } from '@kubernetes/client-node';
import type { AdminClient, AdminTarget } from './admin-client.ts';

/** Expiring within this many days: CertificateReady reason ExpiringSoon, and Degraded. */
export const CERT_EXPIRY_WARNING_DAYS = 14;

export type CertificateObservation =
  | { problem?: undefined; notBefore: Date; notAfter: Date; subject: string; dnsNames: string[] }
  | { problem: 'missing' | 'invalid'; message: string };

/** The leaf certificate of a kubernetes.io/tls Secret's tls.crt (base64 PEM, as the API returns data). */
export function observeCertificate(secret: { data?: Record<string, string> } | undefined, name: string): CertificateObservation {
  const b64 = secret?.data?.['tls.crt'];
  if (secret === undefined) return { problem: 'missing', message: `TLS secret "${name}" not found` };
  if (b64 === undefined || b64 === '') return { problem: 'missing', message: `TLS secret "${name}" has no tls.crt` };
  try {
    const pem = Buffer.from(b64, 'base64').toString('utf8');
    const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
    if (first === null) return { problem: 'invalid', message: `tls.crt of secret "${name}" holds no PEM certificate` };
    const x = new X509Certificate(first[0]);
    const dnsNames = (x.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
    return { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo), subject: x.subject.replaceAll('\n', ', '), dnsNames };
  } catch (e) {
    return { problem: 'invalid', message: `tls.crt of secret "${name}" does not parse: ${(e as Error).message}` };
  }
}

export interface ServiceObservation {
  type: string;
  /** Load-balancer ingress IPs or host names, in order. */
  ingress: string[];
  clusterIp: string | undefined;
  name: string;
}

export function observeService(svc: V1Service | undefined, name: string): ServiceObservation | undefined {
  if (svc === undefined) return undefined;
  return {
    name,
    type: svc.spec?.type ?? 'ClusterIP',
    ingress: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter((a) => a !== ''),
    clusterIp: svc.spec?.clusterIP,
  };
}

export type DatabaseObservation =
  | { state: 'reachable' }
  | { state: 'unreachable'; message: string }
  | { state: 'unknown'; message: string };

/** GET <admin>/readyz: 200 the database answers, 503 database-unavailable it does not; anything else: unknown. */
export async function probeDatabase(target: AdminTarget, admin: Pick<AdminClient, 'readyz'>): Promise<DatabaseObservation> {
  const baseUrl = target.url;
  try {
    const res = await admin.readyz(target);
    const text = res.text;
    if (res.status === 200) return { state: 'reachable' };
    let problem: { type?: string; detail?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // not problem+json
    }
    if (res.status === 503 && (problem.type ?? '').endsWith('database-unavailable')) {
      return { state: 'unreachable', message: `the relay's admin API reports: ${problem.detail ?? 'the database did not answer'}` };
    }
    return { state: 'unknown', message: `${baseUrl}/readyz answered ${res.status}` };
  } catch (e) {
    return { state: 'unknown', message: `the relay's admin API (${baseUrl}) did not answer: ${(e as Error).message}` };
  }
}
