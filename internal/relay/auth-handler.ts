// AUTH (RFC 4976 §5.1, §6.3, §9.1): Digest challenge, verification, Use-Path and Expires.
//
// - No Authorization: 401 with one WWW-Authenticate per algorithm we accept (SHA-256
//   first, then MD5 for older clients; RFC 7616 §3.7 lets the client pick the first it
//   supports), nonces bound to the connection id.
// - Wrong credentials: 403, and the connection is closed after `maxAuthFailures` of them.
//   Each wrong password is logged (user, realm, source) and counted per user and per source
//   address across connections (auth/guesses.ts, shared with the chat focus's SIP Digest):
//   past the limit, AUTH answers 403 "too many failed attempts" without checking the
//   password, and the connection closes.
// - Credentials that cannot be looked up (database down, user not cached): 403 with the
//   comment "credentials unavailable", not counted as a failure (MSRP has no "try again
//   later" code; see docs/relay.md, "Database outages").
// - Expires outside our bounds: 423 with Min-Expires or Max-Expires (RFC 4976 §5.1).
// - Success: 200 with Use-Path (our URI with a fresh session id of >= 80 random bits),
//   Expires and Authentication-Info. A new AUTH on the same connection by the same user
//   refreshes that session (same URI, new expiry): it must pass Digest again.
// - AUTH over plain TCP is refused (403) unless allowPlainTcp (development only): RFC 4976
//   §9.2 requires TLS between a client and its relay.
import { authenticationInfo, digestChallenge, parseDigestCredentials, verifyDigest, type NonceManager } from '../auth/index.ts';
import { GuessLimiter } from '../auth/guesses.ts';
import { basicChallenge, parseBasicCredentials, verifyBasic } from '../auth/basic.ts';
import type { MsrpHeader, MsrpRequest, MsrpResponse } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { parseExpires } from '../msrp/headers.ts';
import { ownString } from '../msrp/own-string.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { buildResponse, newSessionId } from '../msrp/transaction.ts';
import type { MsrpUri } from '../msrp/uri.ts';
import { AuthFailures } from '../telemetry/auth-failures.ts';
import type { Connection } from '../transport/connection.ts';
import type { AdmitVerdict, LiveSessionRegistry } from './live-sessions.ts';
import type { RelayMetrics } from './metrics.ts';
import type { RelayOptions } from './options.ts';
import type { RelaySession, SessionTable } from './sessions.ts';

/** Where user credentials come from; internal/store implements it. */
export interface CredentialSource {
  lookup(realm: string, username: string): Promise<{ ha1Md5: string; ha1Sha256: string; disabled: boolean } | undefined>;
}

export interface AuthOutcome {
  response: MsrpResponse;
  /** Close the connection once the response is written (too many failures). */
  close: boolean;
  session?: RelaySession;
}

const UNAVAILABLE = Symbol('credentials unavailable');

interface ConnAuthState {
  failures: number;
}

export class AuthHandler {
  readonly #o: RelayOptions;
  readonly #sessions: SessionTable;
  readonly #credentials: CredentialSource;
  readonly #nonces: NonceManager;
  readonly #metrics: RelayMetrics;
  readonly #state = new WeakMap<Connection, ConnAuthState>();
  readonly #publicPort: () => number;
  readonly #registry: LiveSessionRegistry | undefined;
  /** New sessions whose relay-wide admission is being asked, per user: they count locally meanwhile. */
  readonly #admitting = new Map<string, number>();
  readonly #guesses: GuessLimiter;
  readonly #failures: AuthFailures;

  constructor(
    o: RelayOptions, sessions: SessionTable, credentials: CredentialSource, nonces: NonceManager, metrics: RelayMetrics, publicPort: () => number,
    registry?: LiveSessionRegistry, guard: { guesses?: GuessLimiter; failures?: AuthFailures } = {},
  ) {
    this.#o = o;
    this.#guesses = guard.guesses ?? new GuessLimiter();
    this.#failures = guard.failures ?? new AuthFailures(undefined);
    this.#registry = registry;
    this.#sessions = sessions;
    this.#credentials = credentials;
    this.#nonces = nonces;
    this.#metrics = metrics;
    this.#publicPort = publicPort;
  }

  /** The realm for an AUTH addressed to `target` (RFC 4976 §5.1: the To-Path URI names the relay). */
  realmFor(target: MsrpUri): string {
    const host = target.host.toLowerCase();
    return this.#o.realms.byHost.find((m) => m.host === host)?.realm ?? this.#o.realms.default;
  }

  async handle(conn: Connection, req: MsrpRequest, target: MsrpUri): Promise<AuthOutcome> {
    // The failure count lives only while a connection has failures (most never fail): looked
    // up when one happens, dropped when an AUTH succeeds.
    const failed = (): number => {
      let state = this.#state.get(conn);
      if (state === undefined) this.#state.set(conn, (state = { failures: 0 }));
      return ++state.failures;
    };
    const reply = (status: number, headers: MsrpHeader[] = [], comment?: string): MsrpResponse => ({
      ...buildResponse(req, status, comment),
      headers,
    });
    const fail = (reason: string, status: number, headers: MsrpHeader[] = [], comment?: string): AuthOutcome => {
      this.#metrics.authResults.inc({ result: reason });
      const failures = status === MsrpStatus.FORBIDDEN || status === MsrpStatus.BAD_REQUEST ? failed() : (this.#state.get(conn)?.failures ?? 0);
      const close = failures >= this.#o.maxAuthFailures;
      return { response: reply(status, headers, comment), close };
    };

    const unavailable = (): AuthOutcome => {
      this.#metrics.authResults.inc({ result: 'credentials-unavailable' });
      return { response: reply(MsrpStatus.FORBIDDEN, [], 'credentials unavailable, try again later'), close: false };
    };

    if (!conn.secure && !this.#o.allowPlainTcp) return fail('plain-tcp', MsrpStatus.FORBIDDEN, [], 'AUTH requires TLS');
    const source = conn.remoteAddress;
    /** Refused before the password is looked at: the user or the source failed too often (auth/guesses.ts). */
    const guessing = (user: string): AuthOutcome | undefined => {
      const verdict = this.#guesses.check(realm, user, source);
      if (verdict.ok) return undefined;
      this.#failures.refused(conn.log, { protocol: 'msrp', user, realm, source, scope: verdict.scope, retryAfterMs: verdict.retryAfterMs });
      this.#metrics.authResults.inc({ result: 'too-many-failures' });
      return { response: reply(MsrpStatus.FORBIDDEN, [], 'too many failed attempts, try again later'), close: true };
    };
    const wrongPassword = (user: string): AuthOutcome => {
      this.#guesses.failed(realm, user, source);
      this.#failures.failed(conn.log, { protocol: 'msrp', user, realm, source });
      return fail('wrong-password', MsrpStatus.FORBIDDEN);
    };
    const realm = this.realmFor(target);
    const uri = req.toPath[0]!;
    const authorization = getHeader(req, 'Authorization');
    if (authorization === undefined) {
      this.#metrics.authResults.inc({ result: 'challenged' });
      return { response: reply(MsrpStatus.UNAUTHORIZED, this.#challenges(conn, realm, false)), close: false };
    }

    let username: string;
    let authInfo: MsrpHeader | undefined;
    if (/^basic\s/i.test(authorization)) {
      if (!this.#o.allowBasic || !conn.secure) return fail('basic-refused', MsrpStatus.FORBIDDEN, [], 'Basic is not accepted');
      const basic = parseBasicCredentials(authorization);
      if (!basic.ok) return fail('malformed', MsrpStatus.BAD_REQUEST);
      const refused = guessing(basic.value.username);
      if (refused) return refused;
      const stored = await this.#lookup(conn, realm, basic.value.username);
      if (stored === UNAVAILABLE) return unavailable();
      const ok = verifyBasic(basic.value, realm, stored && !stored.disabled && stored.ha1Sha256 !== '' ? stored.ha1Sha256 : undefined);
      if (!ok) return wrongPassword(basic.value.username);
      username = basic.value.username;
    } else {
      const parsed = parseDigestCredentials(authorization);
      if (!parsed.ok) return fail(parsed.code, MsrpStatus.BAD_REQUEST, [], parsed.message);
      const refused = guessing(parsed.value.username);
      if (refused) return refused;
      const stored = await this.#lookup(conn, realm, parsed.value.username);
      if (stored === UNAVAILABLE) return unavailable();
      const verified = verifyDigest({
        credentials: parsed.value,
        realm,
        uri,
        stored: stored && !stored.disabled ? stored : undefined,
        nonces: this.#nonces,
        binding: conn.id,
        algorithms: this.#o.algorithms,
      });
      if (!verified.ok) {
        switch (verified.code) {
          case 'stale-nonce':
            this.#metrics.authResults.inc({ result: 'stale-nonce' });
            return { response: reply(MsrpStatus.UNAUTHORIZED, this.#challenges(conn, realm, true)), close: false };
          case 'invalid-nonce':
          case 'realm-mismatch':
            this.#metrics.authResults.inc({ result: verified.code });
            return { response: reply(MsrpStatus.UNAUTHORIZED, this.#challenges(conn, realm, false)), close: failed() >= this.#o.maxAuthFailures };
          case 'wrong-response':
            return wrongPassword(parsed.value.username);
          default:
            return fail(verified.code, MsrpStatus.BAD_REQUEST, [], verified.message);
        }
      }
      username = verified.value.username;
      authInfo = {
        name: 'Authentication-Info',
        value: authenticationInfo({
          algorithm: verified.value.algorithm, ha1: verified.value.ha1, nonce: parsed.value.nonce,
          cnonce: parsed.value.cnonce, nc: parsed.value.nc, uri: parsed.value.uri ?? uri,
        }),
      };
    }

    // RFC 4976 §5.1: Expires in AUTH is the lifetime the client asks for; outside our
    // bounds we answer 423 naming the bound it crossed.
    let expires = this.#o.expires.default;
    const asked = getHeader(req, 'Expires');
    if (asked !== undefined) {
      const p = parseExpires(asked);
      if (!p.ok) return fail('bad-expires', MsrpStatus.BAD_REQUEST);
      if (p.value < this.#o.expires.min) {
        this.#metrics.authResults.inc({ result: 'expires-out-of-bounds' });
        return { response: reply(MsrpStatus.PARAMETER_OUT_OF_BOUNDS, [{ name: 'Min-Expires', value: String(this.#o.expires.min) }]), close: false };
      }
      if (p.value > this.#o.expires.max) {
        this.#metrics.authResults.inc({ result: 'expires-out-of-bounds' });
        return { response: reply(MsrpStatus.PARAMETER_OUT_OF_BOUNDS, [{ name: 'Max-Expires', value: String(this.#o.expires.max) }]), close: false };
      }
      expires = p.value;
    }

    // Authenticated: the failure count starts over (a connection that never fails keeps no state).
    this.#state.delete(conn);
    this.#guesses.succeeded(realm, username);
    const expiresAt = Date.now() + expires * 1000;
    let session = [...this.#sessions.forConnection(conn)].find((s) => s.user === username && s.realm === realm);
    if (session !== undefined) {
      this.#sessions.refresh(session, expiresAt);
      this.#registry?.refreshed(session);
      this.#metrics.authResults.inc({ result: 'refreshed' });
    } else {
      // Policy: a user over the session cap is refused with 403 (Action-not-allowed): the
      // limit is an authorisation decision; 423 is reserved for out-of-bounds parameters.
      // The cap is relay-wide (docs/relay.md "Relay-wide limits and views"): this replica's
      // sessions (and AUTHs of the user in flight here) from memory, the other replicas'
      // from the registry, which answers within a bound or leaves the local count to decide.
      const limit = this.#o.maxSessionsPerUser;
      const userKey = `${realm}\u0000${username}`;
      const local = limit > 0 ? this.#sessions.countForUser(realm, username) + (this.#admitting.get(userKey) ?? 0) : 0;
      const refuse = (scope: string): AuthOutcome => {
        this.#metrics.limitRejections.inc({ limit: 'sessions-per-user' });
        this.#metrics.authResults.inc({ result: 'session-limit' });
        conn.log.info({ user: username, realm, limit, scope }, 'AUTH refused: sessions per user');
        return { response: reply(MsrpStatus.FORBIDDEN, [], 'too many sessions for this user'), close: false };
      };
      if (limit > 0 && local >= limit) return refuse('replica');
      const id = newSessionId(this.#o.sessionIdPrefix);
      // Own copies: the session lives for hours, and strings cut from the AUTH head would
      // keep the whole head text (or the parser's read window) alive (own-string.ts).
      const candidate: RelaySession = {
        id, connection: conn, user: ownString(username), realm,
        uri: ownString(`msrps://${formatHost(this.#o.publicHost)}:${this.#publicPort()}/${id};tcp`),
        clientUri: ownString(req.fromPath[req.fromPath.length - 1]!),
        createdAt: Date.now(), expiresAt, bytesForwarded: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0,
      };
      if (limit > 0 && this.#registry !== undefined) {
        this.#admitting.set(userKey, (this.#admitting.get(userKey) ?? 0) + 1);
        let verdict: AdmitVerdict;
        try {
          verdict = await this.#registry.admit(candidate, limit, local);
        } finally {
          const n = (this.#admitting.get(userKey) ?? 1) - 1;
          if (n <= 0) this.#admitting.delete(userKey);
          else this.#admitting.set(userKey, n);
        }
        if (verdict === 'refused') return refuse('relay');
        // Decided locally meanwhile (the registry did not answer): the count may have moved.
        if (verdict === 'unknown' && this.#sessions.countForUser(realm, username) + (this.#admitting.get(userKey) ?? 0) >= limit) {
          return refuse('replica');
        }
        if (conn.closed) {
          // Gone while we asked: no session, and the row the registry may have written goes.
          this.#registry.removed(candidate);
          return { response: reply(MsrpStatus.SESSION_DOES_NOT_EXIST, [], 'connection closed'), close: true };
        }
      }
      session = candidate;
      this.#sessions.add(session);
      this.#registry?.added(session);
      this.#metrics.authResults.inc({ result: 'ok' });
    }
    const headers: MsrpHeader[] = [
      { name: 'Use-Path', value: session.uri },
      { name: 'Expires', value: String(expires) },
    ];
    if (authInfo !== undefined) headers.push(authInfo);
    return { response: reply(MsrpStatus.OK, headers), close: false, session };
  }

  /** The stored credentials, or UNAVAILABLE when they cannot be looked up (logged). */
  async #lookup(conn: Connection, realm: string, username: string): Promise<Awaited<ReturnType<CredentialSource['lookup']>> | typeof UNAVAILABLE> {
    try {
      return await this.#credentials.lookup(realm, username);
    } catch (err) {
      conn.log.warn({ err, realm, username }, 'AUTH: credentials unavailable');
      return UNAVAILABLE;
    }
  }

  #challenges(conn: Connection, realm: string, stale: boolean): MsrpHeader[] {
    const out: MsrpHeader[] = [];
    for (const algorithm of this.#o.algorithms) {
      const nonce = this.#nonces.issue(realm, conn.id);
      out.push({ name: 'WWW-Authenticate', value: digestChallenge({ realm, nonce, algorithm, stale }) });
    }
    if (this.#o.allowBasic && conn.secure) out.push({ name: 'WWW-Authenticate', value: basicChallenge(realm) });
    return out;
  }
}

/** IPv6 literals need brackets in a URI authority (RFC 3986 §3.2.2). */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
