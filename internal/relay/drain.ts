// Graceful drain (docs/architecture.md §4.3, Kubernetes rolling updates): after readiness turns false
// and the listeners close, wait for in-flight transfers to finish, but no longer than the
// deadline (which must stay under the pod's terminationGracePeriodSeconds).
export function waitForDrain(idle: () => boolean, deadlineMs: number, pollMs = 50): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = (): void => {
      if (idle()) return resolve(true);
      if (Date.now() - started >= deadlineMs) return resolve(false);
      setTimeout(tick, pollMs);
    };
    tick();
  });
}
