// Optional kinds of other projects: cert-manager's Certificate and prometheus-operator's
// ServiceMonitor. Rendered as plain objects (we do not depend on their TypeScript types).
import type { MsrpRelay } from '../api/msrprelay.ts';
import type { KubeObject } from '../kube/client.ts';
import { adminDnsNames, names, objectMeta, tlsSecretName } from './common.ts';
import { adminServiceLabels } from './services.ts';

/** undefined unless spec.tls.issuerRef is set. */
export function renderCertificate(r: MsrpRelay): KubeObject | undefined {
  const issuer = r.spec.tls.issuerRef;
  if (!issuer) return undefined;
  const dnsNames = [...new Set([r.spec.publicHost, ...(r.spec.chat.domain ? [r.spec.chat.domain] : []), ...(r.spec.tls.dnsNames ?? [])])];
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: objectMeta(r, names.certificate(r)),
    spec: {
      secretName: tlsSecretName(r),
      dnsNames,
      issuerRef: { name: issuer.name, kind: issuer.kind, group: issuer.group },
      // The relay is a TLS server to clients and a TLS client to other relays (RFC 4976 §7).
      usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  };
}

/** undefined unless spec.monitoring.serviceMonitor.enabled. */
export function renderServiceMonitor(r: MsrpRelay): KubeObject | undefined {
  const sm = r.spec.monitoring.serviceMonitor;
  if (!sm.enabled) return undefined;
  const endpoint = (port: string) => ({ port, path: '/metrics', ...(sm.interval ? { interval: sm.interval } : {}) });
  // The admin port speaks HTTPS with the operator-issued certificate: verified against its CA.
  const admin = {
    ...endpoint('admin'), scheme: 'https',
    tlsConfig: { ca: { secret: { name: names.adminTlsSecret(r), key: 'ca.crt' } }, serverName: adminDnsNames(r)[0] },
  };
  const meta = objectMeta(r, names.serviceMonitor(r), 'admin');
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { ...meta, labels: { ...meta.labels, ...(sm.labels ?? {}) } },
    spec: {
      selector: { matchLabels: adminServiceLabels(r) },
      namespaceSelector: { matchNames: [r.metadata.namespace] },
      endpoints: [endpoint('metrics'), admin],
    },
  };
}
