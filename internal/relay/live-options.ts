// The relay options a running relay takes without a restart (RunningRelay.reconfigure), the
// relay side of internal/config/live.ts. Most are read where they are used, from the one
// options object the relay's parts share, so copying them in is enough; the parts that keep
// a value of their own (the throttle's buckets, the peer-certificate verdicts, the next-hop
// resolver and open connections, the set of host names that mean this relay, the frame
// reader limits) are told by reconfigure().
import type { RelayOptions } from './options.ts';

export const LIVE_RELAY_OPTIONS = [
  'aliases', 'realms', 'blockedMethods',
  'algorithms', 'allowPlainTcp', 'allowBasic', 'maxAuthFailures', 'expires',
  'maxHeaderBytes', 'streamThreshold', 'maxBufferedBytes', 'maxNonSendBody', 'parseErrorBudget',
  'transactionTimeoutSec', 'maxConnections', 'maxConnectionsPerAddress', 'maxSessionsPerUser',
  'throttle', 'nextHops', 'peerCertificates', 'drainTimeoutSec',
] as const satisfies readonly (keyof RelayOptions)[];

export type LiveRelayOptions = Pick<RelayOptions, (typeof LIVE_RELAY_OPTIONS)[number]>;

/** Copies the live options of `next` into `target`, the running relay's own object. */
export function copyLiveOptions(target: RelayOptions, next: LiveRelayOptions): void {
  // Test-only static host entries are not configuration: they stay.
  const staticHosts = target.nextHops.staticHosts;
  Object.assign(target, Object.fromEntries(LIVE_RELAY_OPTIONS.map((k) => [k, structuredClone(next[k])])));
  if (staticHosts !== undefined && target.nextHops.staticHosts === undefined) target.nextHops.staticHosts = staticHosts;
}
