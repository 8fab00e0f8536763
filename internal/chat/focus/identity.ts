// Who sent a request to a room. The SIP From is only a claim (RFC 3261 §22, §23): anyone can
// write a moderator's URI in it. An identity is established, in this order, by
//   1. P-Asserted-Identity, believed only from the configured proxy addresses (RFC 3325 §9.1:
//      a trust domain; from anyone else it is ignored),
//   2. SIP Digest (RFC 3261 §22.4, RFC 8760 SHA-256) against the relay's realms and users
//      (the store, through the engine's credential cache): the identity is sip:<user>@<realm>,
//   3. else the From URI, unauthenticated.
// A room with requireAuth, and every moderator action whatever the room (REFER method=BYE:
// removing someone on the word of a From header is what this file exists to stop), needs 1
// or 2: without them the request is challenged (401) before any work is done for it.
//
// Nonces are bound to the request's source address: a right answer also proves that the
// sender received our 401, so a spoofed UDP source never gets past the challenge (and the
// focus then trusts the address, see transport/udp-guard.ts). Failed passwords count per user
// and per source (auth/guesses.ts, shared with the relay's MSRP AUTH), with one log line each.
//
// Answers: 401 challenge (no or stale credentials, a nonce that is not ours or not for this
// address, a wrong password) · 400 malformed Authorization · 403 + Retry-After too many
// failures · 503 + Retry-After when the credentials cannot be read (database down, user not
// cached) · 403 when authentication is needed and the focus has no realm configured.
import type { Logger } from 'pino';
import { parseDigestCredentials, type DigestAlgorithm, type NonceManager } from '../../auth/index.ts';
import type { GuessLimiter } from '../../auth/guesses.ts';
import { precheckSipDigest, sipChallenges, verifySipDigest, type SipDigestOptions } from '../../sip/digest.ts';
import { fromHeader, parseNameAddr } from '../../sip/fields.ts';
import { headerValue } from '../../sip/message.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { parseSipUri } from '../../sip/uri.ts';
import type { Destination } from '../../sip/timers.ts';
import type { AuthFailures } from '../../telemetry/auth-failures.ts';
import { matchesAny } from '../switch/policy.ts';
import type { RoomEntry } from './directory.ts';

/** SIP Digest for the focus: the relay's realms, nonces and users. */
export interface FocusAuth {
  /** The realm of a Request-URI host (the relay's realm mapping: by host, else its default realm). */
  realmFor(host: string): string;
  readonly nonces: NonceManager;
  /** Offered and accepted, preferred first (default SHA-256 then MD5, RFC 8760 §2.4). */
  readonly algorithms?: readonly DigestAlgorithm[];
  /** The relay's CredentialSource (the store through the credential cache); throws when unavailable. */
  lookup(realm: string, username: string): Promise<{ ha1Md5: string; ha1Sha256: string; disabled: boolean } | undefined>;
}

export interface Identity {
  /** The participant URI: sip:<user>@<realm> after Digest, the asserted URI, or the From URI. */
  readonly uri: string;
  readonly by: 'digest' | 'asserted' | 'from';
}

export function isAuthenticated(identity: Identity): boolean {
  return identity.by !== 'from';
}

/** The one moderator check (RFC 4579 §5.5 removals, and any later moderator action): an authenticated identity on the room's list. */
export function isModerator(identity: Identity, room: RoomEntry): boolean {
  return isAuthenticated(identity) && matchesAny(identity.uri, room.policy.moderators);
}

export interface RoomIdentityOptions {
  readonly auth: FocusAuth | undefined;
  /** RFC 3325: source addresses whose P-Asserted-Identity is believed. */
  readonly trustedProxies?: readonly string[];
  readonly guesses: GuessLimiter;
  readonly failures: AuthFailures;
  readonly logger: Logger;
  /** The source proved it receives what we send (a right Digest answer to a nonce bound to it). */
  onReturnRoutable?(source: Destination): void;
}

export class RoomIdentity {
  readonly #o: RoomIdentityOptions;
  readonly #trusted: Set<string>;

  constructor(o: RoomIdentityOptions) {
    this.#o = o;
    this.#trusted = new Set((o.trustedProxies ?? []).map(normalAddress));
  }

  /**
   * The identity of a request. When `required` and no authenticated identity can be
   * established, the request is answered (401, 403, 400 or 503; `refused` hears the
   * status) and the result is undefined.
   */
  async identityOf(incoming: IncomingRequest, required: boolean, refused: (status: number) => void = () => undefined): Promise<Identity | undefined> {
    const req = incoming.request;
    const source = incoming.source;
    const answer = (status: number, headers: [string, string][] = [], reason?: string): undefined => {
      refused(status);
      incoming.respond(status, { headers, ...(reason === undefined ? {} : { reason }) });
      return undefined;
    };
    const asserted = headerValue(req, 'P-Asserted-Identity');
    if (asserted !== undefined && this.#trusted.has(normalAddress(source.address))) {
      const who = parseNameAddr(asserted.split(',')[0]!.trim());
      if (who) return { uri: who.uri, by: 'asserted' };
    }
    const auth = this.#o.auth;
    const header = headerValue(req, 'Authorization');
    if (auth === undefined) {
      if (required) return answer(403, [], 'Authentication Required But Not Configured');
      return fromOf(incoming, answer);
    }
    const host = parseSipUri(req.uri)?.host.replace(/^\[|\]$/g, '') ?? '';
    const realm = auth.realmFor(host.toLowerCase());
    const digest = (stored: SipDigestOptions['lookup'] = () => undefined): SipDigestOptions => ({
      realm, nonces: auth.nonces, binding: source.address, lookup: stored, ...(auth.algorithms === undefined ? {} : { algorithms: auth.algorithms }),
    });
    const challenge = (stale: boolean): undefined => answer(401, sipChallenges(digest(), stale).map((c) => ['WWW-Authenticate', c] as [string, string]));
    if (header === undefined) return required ? challenge(false) : fromOf(incoming, answer);
    const parsed = parseDigestCredentials(header);
    if (!parsed.ok) return answer(400, [], 'Bad Authorization');
    const user = parsed.value.username;
    const event = { protocol: 'sip' as const, user, realm, source: source.address };
    const allowed = this.#o.guesses.check(realm, user, source.address);
    if (!allowed.ok) {
      this.#o.failures.refused(this.#o.logger, { ...event, scope: allowed.scope, retryAfterMs: allowed.retryAfterMs });
      return answer(403, [['Retry-After', String(Math.ceil(allowed.retryAfterMs / 1000))]], 'Too Many Failed Attempts');
    }
    // Challenge before work: a nonce that is not ours (or not for this address), another
    // realm or digest-uri costs no credential lookup (the store, when the cache misses).
    if (!precheckSipDigest(digest(), parsed.value, req.uri).ok) return challenge(false);
    let stored: Awaited<ReturnType<FocusAuth['lookup']>>;
    try {
      stored = await auth.lookup(realm, user);
    } catch (err) {
      this.#o.logger.warn({ err, realm, user }, 'SIP Digest: credentials unavailable');
      // RFC 3261 §21.5.4: a temporary failure; the client may retry after a while.
      return answer(503, [['Retry-After', '5']], 'Credentials Unavailable');
    }
    const verified = verifySipDigest(digest(() => (stored && !stored.disabled ? stored : undefined)), header, req.method, req.uri);
    if (verified.ok) {
      this.#o.guesses.succeeded(realm, user);
      this.#o.onReturnRoutable?.(source);
      return { uri: `sip:${verified.value}@${realm}`, by: 'digest' };
    }
    switch (verified.code) {
      case 'wrong-response': {
        this.#o.failures.failed(this.#o.logger, event);
        const next = this.#o.guesses.failed(realm, user, source.address);
        if (!next.ok) return answer(403, [['Retry-After', String(Math.ceil(next.retryAfterMs / 1000))]], 'Too Many Failed Attempts');
        return challenge(false);
      }
      case 'stale-nonce':
        return challenge(true);
      case 'malformed':
        return answer(400, [], 'Bad Authorization');
      default:
        // A nonce not ours or issued to another address, another realm, a replayed nc...: a fresh challenge.
        return challenge(false);
    }
  }

}

function fromOf(incoming: IncomingRequest, answer: (status: number, headers: [string, string][], reason: string) => undefined): Identity | undefined {
  const from = fromHeader(incoming.request);
  if (!from) return answer(400, [], 'No From');
  return { uri: from.uri.replace(/^<|>$/g, ''), by: 'from' };
}

function normalAddress(a: string): string {
  return a.replace(/^\[|\]$/g, '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();
}
