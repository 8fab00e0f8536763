// The three Services of a relay: public (MSRP and SIP, the type the user chose), headless
// (stable per-replica DNS for the mesh) and admin (ClusterIP, admin API and metrics).
import type { V1Service } from '@kubernetes/client-node';
import type { MsrpRelay } from '../api/msrprelay.ts';
import { ADMIN_PORT, ENGINE_HTTP_PORT, labels, MESH_CHAT_PORT, MESH_PORT, names, objectMeta, selectorLabels } from './common.ts';
import { publicPorts } from './statefulset.ts';

export function renderPublicService(r: MsrpRelay): V1Service {
  const svc = r.spec.service;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(r, names.publicService(r), 'relay', svc.annotations),
    spec: {
      type: svc.type,
      selector: selectorLabels(r),
      ports: publicPorts(r).map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: p.protocol })),
      ...(svc.loadBalancerClass ? { loadBalancerClass: svc.loadBalancerClass } : {}),
      ...(svc.externalTrafficPolicy ? { externalTrafficPolicy: svc.externalTrafficPolicy } : {}),
    },
  };
}

export function renderMeshService(r: MsrpRelay): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(r, names.meshService(r), 'mesh'),
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(r),
      // Replicas find each other while starting or draining, not only when Ready.
      publishNotReadyAddresses: true,
      ports: [
        { name: 'msrps', port: r.spec.ports.msrpTls, targetPort: 'msrps', protocol: 'TCP' },
        { name: 'mesh', port: MESH_PORT, targetPort: 'mesh', protocol: 'TCP' },
        { name: 'mesh-chat', port: MESH_CHAT_PORT, targetPort: 'mesh-chat', protocol: 'TCP' },
      ],
    },
  };
}

export function renderAdminService(r: MsrpRelay): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(r, names.adminService(r), 'admin'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(r),
      ports: [
        { name: 'admin', port: ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' },
        { name: 'metrics', port: ENGINE_HTTP_PORT, targetPort: 'http', protocol: 'TCP' },
      ],
    },
  };
}

/** Labels of the admin Service, which the ServiceMonitor selects. */
export function adminServiceLabels(r: MsrpRelay): Record<string, string> {
  return labels(r, 'admin');
}
