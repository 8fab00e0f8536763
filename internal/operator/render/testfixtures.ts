// Test support: an MsrpRelay as the API server hands it back (schema defaults filled in).
import Value from 'typebox/value';
import { MsrpRelaySpec } from '../api/msrprelay.ts';
import type { MsrpRelay } from '../api/msrprelay.ts';

export function relayFixture(spec: Record<string, unknown> = {}, name = 'relay', namespace = 'chat'): MsrpRelay {
  // spec.database is required (a CEL rule: the relay pod is two processes, PGlite is one).
  const s = structuredClone({ publicHost: 'msrp.example.com', tls: { secretName: 'relay-tls' }, database: { secretRef: { name: 'relay-db', key: 'url' } }, ...spec });
  Value.Default(MsrpRelaySpec, s);
  return {
    apiVersion: 'msrp.dev/v1alpha1',
    kind: 'MsrpRelay',
    metadata: { name, namespace, uid: '0b6f3c1e-0000-4000-8000-000000000001', generation: 1 },
    spec: s as MsrpRelay['spec'],
  };
}
