// metav1.Condition bookkeeping: lastTransitionTime moves only when a condition's status
// changes (Kubernetes API conventions), not when its reason or message does.
import type { Condition, ConditionType } from './api/common.ts';

export interface ConditionInput {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** Seconds precision, as the API server stores metav1.Time. */
export function nowTime(now = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The new condition list: `wanted`, with lastTransitionTime carried over where status is unchanged. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  wanted: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: string,
): Condition[] {
  return wanted.map((w) => {
    const before = previous?.find((c) => c.type === w.type);
    const lastTransitionTime = before && before.status === w.status ? before.lastTransitionTime : now;
    return {
      type: w.type,
      status: w.status,
      ...(observedGeneration !== undefined ? { observedGeneration } : {}),
      lastTransitionTime,
      reason: w.reason,
      message: w.message,
    };
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** A change worth an Event: the status or the reason of a condition moved. */
export function conditionChanged(before: Condition | undefined, after: Condition | undefined): boolean {
  if (!after) return false;
  return before?.status !== after.status || before.reason !== after.reason;
}
