// Kubernetes Events (events.k8s.io/v1) for notable transitions, so `kubectl describe`
// and `kubectl events` show what the operator did and why. Best effort: a failed Event
// never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import { microTime } from './leader.ts';

export const REPORTING_CONTROLLER = 'msrp.dev/operator';

export interface EventRecorder {
  record(regarding: KubeObject, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export function createEventRecorder(client: KubeClient, instance: string, logger: Logger): EventRecorder {
  return {
    record(regarding, type, reason, action, note) {
      const meta = regarding.metadata ?? {};
      const namespace = meta.namespace ?? 'default';
      const event = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`, namespace },
        eventTime: microTime(),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: instance.slice(0, 128),
        action,
        reason,
        type,
        note: note.slice(0, 1024),
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: meta.name,
          namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
      };
      client.create(RESOURCES.event, event).catch((e: unknown) => {
        logger.debug({ err: (e as Error).message, reason }, 'event not recorded');
      });
    },
  };
}
