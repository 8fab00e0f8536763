// One log line and one metric per failed password check, and per attempt refused because
// of earlier failures (internal/auth/guesses.ts), the same for MSRP AUTH (the relay) and SIP
// Digest (the chat focus), as msrprelay's failed-auth log line was: fail2ban-style tools
// read the user, realm and source from it. Label values are bounded: protocol ∈ {msrp, sip},
// scope ∈ {user, source}.
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';

export type AuthProtocol = 'msrp' | 'sip';

export interface AuthFailureEvent {
  readonly protocol: AuthProtocol;
  readonly user: string;
  readonly realm: string;
  /** The peer's address (no port: several connections of one source are one guesser). */
  readonly source: string;
}

export class AuthFailures {
  readonly #failed: Counter<'protocol'> | undefined;
  readonly #refused: Counter<'protocol' | 'scope'> | undefined;

  constructor(metrics: Metrics | undefined) {
    this.#failed = metrics?.counter({ name: 'auth_failures_total', help: 'Wrong passwords (or unknown users) in MSRP AUTH and SIP Digest, by protocol.', labelNames: ['protocol'] });
    this.#refused = metrics?.counter({
      name: 'auth_guess_refusals_total',
      help: 'Authentication attempts refused without a password check because the user or source failed too often recently.',
      labelNames: ['protocol', 'scope'],
    });
  }

  /** A wrong password: one warn line with user, realm and source. */
  failed(log: Logger, e: AuthFailureEvent): void {
    this.#failed?.inc({ protocol: e.protocol });
    log.warn({ user: e.user, realm: e.realm, source: e.source, protocol: e.protocol }, 'authentication failed');
  }

  /** An attempt refused because of earlier failures (auth/guesses.ts). */
  refused(log: Logger, e: AuthFailureEvent & { readonly scope: 'user' | 'source'; readonly retryAfterMs: number }): void {
    this.#refused?.inc({ protocol: e.protocol, scope: e.scope });
    log.warn({ user: e.user, realm: e.realm, source: e.source, protocol: e.protocol, scope: e.scope, retryAfterSec: Math.ceil(e.retryAfterMs / 1000) }, 'authentication refused: too many failures');
  }
}
