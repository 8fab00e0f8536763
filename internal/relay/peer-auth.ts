// Who may deliver to our clients (RFC 4976 §6.4, §9.2). A request for one of our sessions
// that arrives on a connection other than the session's own is traffic *toward* the
// client: from a foreign relay (the previous hop put its own URI first in From-Path,
// §6.4) or from an endpoint that uses no relay. Relay to relay is always TLS with mutual
// authentication (§9.2), so on an inbound connection such a request is accepted only when
// the peer presented a client certificate that
//  - chains to our ca.crt (the TLS handshake verified it: socket.authorized), and
//  - names the host of the request's first From-Path URI, checked like a server
//    certificate (SAN DNS/IP, as next-hops.ts checks the peers we dial).
// Without the host check any certificate our CA ever issued could speak for any relay.
//
// Connections we opened ourselves (direction 'outbound') carry traffic back from a peer we
// chose by nextHops.allow and, for msrps:, verified as a server against its URI host at
// connect: accepted. The client's own connection never gets here (the router's fromClient).
//
// A certificate that is presented but fails (untrusted chain, or valid for another host) is
// refused per request in both policies, not at the handshake: the connection stays usable
// for what needs no relay identity (AUTH with Digest, e.g. an edge relay authenticating a
// user through us, RFC 4976 §5.1, and that session's own traffic), and the peer gets a 403
// whose comment says why, where a closed handshake would look like a network failure.
// `verify-if-presented` only lets through peers that presented nothing (endpoints without a
// relay, plain TCP in development).
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { parseMsrpUri } from '../msrp/uri.ts';
import type { Connection } from '../transport/connection.ts';
import type { PeerCertificatePolicy } from './options.ts';

export type PeerRefusalReason = 'peer-no-certificate' | 'peer-certificate-untrusted' | 'peer-certificate-host-mismatch';

export interface PeerRefusal {
  /** The `relay_drops_total` reason. */
  reason: PeerRefusalReason;
  /** The 403 comment. */
  comment: string;
}

type PeerCert =
  | { kind: 'none'; tls: boolean }
  | { kind: 'untrusted'; error: string }
  | { kind: 'verified'; cert: PeerCertificate };

interface PeerState {
  readonly cert: PeerCert;
  /** Verdicts by raw From-Path URI (a peer relay repeats its session URIs on every frame). */
  readonly byUri: Map<string, PeerRefusal | null>;
  /** Refusal reasons already logged on this connection (one info line per reason, not per frame). */
  readonly logged: Set<PeerRefusalReason>;
}

/** Verdicts cached per connection; cleared when full (a peer sending ever-new URIs costs a parse each). */
const URIS_PER_CONNECTION = 256;

export class PeerAuthenticator {
  #policy: PeerCertificatePolicy;
  #peers = new WeakMap<Connection, PeerState>();

  constructor(policy: PeerCertificatePolicy) {
    this.#policy = policy;
  }

  /** A new policy (a configuration reloaded live): verdicts cached under the old one are dropped. */
  update(policy: PeerCertificatePolicy): void {
    this.#policy = policy;
    this.#peers = new WeakMap();
  }

  /**
   * Why `conn` may not deliver a request whose first From-Path URI is `previousHop` to one
   * of our clients, or undefined when it may.
   */
  refuse(conn: Connection, previousHop: string | undefined): PeerRefusal | undefined {
    if (conn.direction === 'outbound') return undefined;
    let state = this.#peers.get(conn);
    if (state === undefined) {
      state = { cert: peerCertOf(conn), byUri: new Map(), logged: new Set() };
      this.#peers.set(conn, state);
    }
    const key = previousHop ?? '';
    let verdict = state.byUri.get(key);
    if (verdict === undefined) {
      verdict = this.#judge(state.cert, key) ?? null;
      if (state.byUri.size >= URIS_PER_CONNECTION) state.byUri.clear();
      state.byUri.set(key, verdict);
    }
    if (verdict === null) return undefined;
    if (!state.logged.has(verdict.reason)) {
      state.logged.add(verdict.reason);
      const c = state.cert;
      conn.log.info({
        reason: verdict.reason, previousHop: key, tls: c.kind !== 'none' || c.tls, policy: this.#policy,
        ...(c.kind === 'untrusted' ? { certError: c.error } : {}),
        ...(c.kind === 'verified' ? { certSubject: c.cert.subject?.CN, certSan: c.cert.subjectaltname } : {}),
      }, `request toward a client refused: ${verdict.comment}`);
    }
    return verdict;
  }

  #judge(cert: PeerCert, previousHop: string): PeerRefusal | undefined {
    switch (cert.kind) {
      case 'none':
        if (this.#policy === 'verify-if-presented') return undefined;
        return {
          reason: 'peer-no-certificate',
          comment: cert.tls ? 'relay-to-relay needs TLS with a client certificate (RFC 4976 §9.2): none presented'
            : 'relay-to-relay needs TLS with a client certificate (RFC 4976 §9.2): this is plain TCP',
        };
      case 'untrusted':
        return { reason: 'peer-certificate-untrusted', comment: `peer certificate not trusted (${cert.error})` };
      case 'verified': {
        const u = parseMsrpUri(previousHop);
        if (!u.ok) return { reason: 'peer-certificate-host-mismatch', comment: 'first From-Path URI is not an MSRP URI: no host to check the certificate against' };
        if (checkServerIdentity(u.uri.host, cert.cert) !== undefined) {
          return { reason: 'peer-certificate-host-mismatch', comment: `peer certificate does not name ${u.uri.host}, the first From-Path URI host` };
        }
        return undefined;
      }
    }
  }
}

function peerCertOf(conn: Connection): PeerCert {
  if (!conn.secure) return { kind: 'none', tls: false };
  const socket = conn.socket as TLSSocket;
  const cert = socket.getPeerCertificate();
  // An empty object: the peer sent no certificate (requestCert without one is allowed).
  if (cert === null || cert.raw === undefined) return { kind: 'none', tls: true };
  if (!socket.authorized) return { kind: 'untrusted', error: String(socket.authorizationError ?? 'unknown') };
  return { kind: 'verified', cert };
}
