// The router without sockets: fake session table, local identity and peer gate, driven by the
// RFC 4976 example messages (internal/msrp/testdata/rfc4976.ts). Each relay of the examples is
// played by one Router; connections are plain objects compared by identity.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MsrpFrame, MsrpRequestHead } from '../msrp/frame.ts';
import { MsrpParser } from '../msrp/parser.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { effectivePort, type MsrpUri } from '../msrp/uri.ts';
import * as rfc4976 from '../msrp/testdata/rfc4976.ts';
import type { Connection } from '../transport/connection.ts';
import type { PeerRefusal } from './peer-auth.ts';
import { Router, type LocalIdentity, type MeshRouting, type PeerGate, type Route } from './router.ts';
import type { RelaySession } from './sessions.ts';

/** The requests in `wire`, parsed as the relay's parser gives them. */
function requests(wire: string): MsrpRequestHead[] {
  const frames: MsrpFrame[] = [];
  const p = new MsrpParser({ onFrame: (f) => frames.push(f), onError: (e) => assert.fail(e.message) });
  p.push(Buffer.from(wire, 'latin1'));
  return frames.filter((f): f is MsrpFrame & { kind: 'request' } => f.kind === 'request');
}

function only(wire: string): MsrpRequestHead {
  const r = requests(wire);
  assert.equal(r.length, 1);
  return r[0]!;
}

/** A connection, as far as the router goes: an identity. */
function connection(name: string): Connection {
  return { name } as unknown as Connection;
}

/** This relay is `host:port`, on any session id. */
function identity(host: string, port: number): LocalIdentity {
  return { isLocal: (uri: MsrpUri) => uri.host.toLowerCase() === host && effectivePort(uri) === port };
}

class FakeSessions {
  readonly byId = new Map<string, RelaySession>();
  add(id: string, conn: Connection, clientUri: string): RelaySession {
    const s = { id, connection: conn, user: 'u', realm: 'r', uri: '', clientUri, createdAt: 0, expiresAt: Infinity, bytesForwarded: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
    this.byId.set(id, s);
    return s;
  }
  get(id: string): RelaySession | undefined {
    return this.byId.get(id);
  }
}

class FakePeers implements PeerGate {
  refusal: PeerRefusal | undefined;
  readonly asked: { conn: Connection; previousHop: string | undefined }[] = [];
  refuse(conn: Connection, previousHop: string | undefined): PeerRefusal | undefined {
    this.asked.push({ conn, previousHop });
    return this.refusal;
  }
}

function forward(route: Route): Extract<Route, { kind: 'forward' }> {
  assert.equal(route.kind, 'forward', JSON.stringify(route));
  return route;
}

function rejected(route: Route, status: number, reason: string): void {
  assert.equal(route.kind, 'reject', JSON.stringify(route));
  assert.equal(route.status, status);
  assert.equal(route.reason, reason);
}

/** The rewritten head carries the paths of `expected` (the RFC's forwarded frame) under a new transaction id. */
function assertRewritten(out: MsrpRequestHead, received: MsrpRequestHead, expected: MsrpRequestHead): void {
  assert.deepEqual(out.toPath, expected.toPath);
  assert.deepEqual(out.fromPath, expected.fromPath);
  assert.equal(out.method, received.method);
  assert.notEqual(out.transactionId, received.transactionId, 'responses are hop-by-hop: a new transaction id (RFC 4975 §7.2)');
  assert.equal(out.headers, received.headers, 'the other headers go on as they are');
}

// The two relays of the RFC 4976 example: Alice -> a.example.org -> b.example.net -> Bob.
const alice = connection('alice');
const bob = connection('bob');
const aToB = connection('a.example.org -> b.example.net');
const bToA = connection('b.example.net -> a.example.org');
const ALICE = 'msrps://alice.example.org:7965/bar;tcp';
const BOB = 'msrps://bob.example.net:8145/foo;tcp';

function relayA(peers: PeerGate = new FakePeers()): Router {
  const sessions = new FakeSessions();
  sessions.add('kjfjan', alice, ALICE);
  return new Router(sessions, identity('a.example.org', 9000), peers);
}

function relayB(peers: PeerGate = new FakePeers()): { router: Router; sessions: FakeSessions } {
  const sessions = new FakeSessions();
  sessions.add('aeiug', bob, BOB);
  return { router: new Router(sessions, identity('b.example.net', 9000), peers), sessions };
}

describe('Router, RFC 4976 examples', () => {
  it("a.example.org passes Alice's SEND to b.example.net: its URI moves from To-Path to From-Path (§6.4)", () => {
    const send = only(rfc4976.sendToRelayA);
    const route = forward(relayA().route(alice, send));
    assert.equal(route.next.kind, 'remote');
    assert.equal(route.next.kind === 'remote' && route.next.uri.host, 'b.example.net');
    assert.equal(route.session?.id, 'kjfjan');
    assertRewritten(route.head, send, requests(rfc4976.relayAOkThenForward)[0]!);
  });

  it('makes the forwarded head once, on first use, under the route\'s own transaction id', () => {
    const send = only(rfc4976.sendToRelayA);
    const route = forward(relayA().route(alice, send));
    assert.equal(route.passed, 1, 'one of our URIs passed');
    assert.equal(route.received, send);
    const head = route.head;
    assert.equal(route.head, head, 'the same head every time');
    assert.equal(head.transactionId, route.transactionId);
    assert.notEqual(route.transactionId, send.transactionId, 'a new transaction id (RFC 4975 §7.2: responses are hop-by-hop)');
    assert.notEqual(forward(relayA().route(alice, send)).transactionId, route.transactionId, 'each route its own');
  });

  it("b.example.net delivers the SEND on Bob's connection, after asking the peer gate about the foreign hop (§9.2)", () => {
    const peers = new FakePeers();
    const send = requests(rfc4976.relayAOkThenForward)[0]!;
    const route = forward(relayB(peers).router.route(aToB, send));
    assert.equal(route.next.kind, 'session');
    assert.equal(route.next.kind === 'session' && route.next.session.connection, bob);
    assertRewritten(route.head, send, only(rfc4976.relayBToBob));
    assert.deepEqual(peers.asked, [{ conn: aToB, previousHop: 'msrps://a.example.org:9000/kjfjan;tcp' }]);
  });

  it("Bob's REPORT goes back through b.example.net and a.example.org to Alice", () => {
    const report = requests(rfc4976.bobOkThenReportFixed)[0]!;
    const [atA, atAlice] = requests(rfc4976.reportForwarded);
    const viaB = forward(relayB().router.route(bob, report));
    assert.equal(viaB.next.kind === 'remote' && viaB.next.uri.host, 'a.example.org');
    assertRewritten(viaB.head, report, atA!);
    const viaA = forward(relayA().route(bToA, atA!));
    assert.equal(viaA.next.kind === 'session' && viaA.next.session.connection, alice);
    assertRewritten(viaA.head, atA!, atAlice!);
  });

  it('answers an AUTH addressed to the relay itself (§5.1) as a local AUTH', () => {
    const auth = only(rfc4976.authInitial); // no port in the URI: 2855 (RFC 4975 §6)
    const route = new Router(new FakeSessions(), identity('intra.example.com', 2855), new FakePeers()).route(alice, auth);
    assert.equal(route.kind, 'auth');
    assert.equal(route.kind === 'auth' && route.target.host, 'intra.example.com');
  });

  it('passes an AUTH for the outer relay through the inner one (§5.1)', () => {
    const [sent, forwarded] = requests(rfc4976.authThroughRelay);
    const sessions = new FakeSessions();
    const client = connection('alice.example.com');
    sessions.add('jui787s2f', client, 'msrps://alice.example.com:9892/98cjs;tcp');
    const route = forward(new Router(sessions, identity('intra.example.com', 9000), new FakePeers()).route(client, sent!));
    assert.equal(route.next.kind === 'remote' && route.next.uri.host, 'extra.example.com');
    assertRewritten(route.head, sent!, forwarded!);
  });
});

describe('Router rejects', () => {
  const send = only(rfc4976.sendToRelayA);

  it('481 when the first To-Path URI is not this relay', () => {
    rejected(relayB().router.route(alice, send), MsrpStatus.SESSION_DOES_NOT_EXIST, 'not-for-us');
  });

  it('481 for an unknown or expired session', () => {
    const sessions = new FakeSessions();
    rejected(new Router(sessions, identity('a.example.org', 9000), new FakePeers()).route(alice, send), MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown-session');
  });

  it('481 when the To-Path ends at this relay', () => {
    const head = { ...send, toPath: [send.toPath[0]!] };
    rejected(relayA().route(alice, head), MsrpStatus.SESSION_DOES_NOT_EXIST, 'path-ends-here');
  });

  it('481 when the relay URI carries no session id', () => {
    const head = { ...send, toPath: ['msrps://a.example.org:9000;tcp', BOB] };
    rejected(relayA().route(alice, head), MsrpStatus.SESSION_DOES_NOT_EXIST, 'no-session-id');
  });

  it('400 when the first To-Path URI is not an MSRP URI', () => {
    const head = { ...send, toPath: ['http://a.example.org/kjfjan', BOB] };
    rejected(relayA().route(alice, head), MsrpStatus.BAD_REQUEST, 'bad-uri');
  });

  it("403 when a session URI is used from another connection towards anywhere but its client (§6.3)", () => {
    rejected(relayA().route(bToA, send), MsrpStatus.FORBIDDEN, 'foreign-connection');
  });

  it("403 with the peer gate's reason when a foreign hop is refused (§9.2)", () => {
    const peers = new FakePeers();
    peers.refusal = { reason: 'peer-no-certificate', comment: 'no certificate' };
    const forwarded = requests(rfc4976.relayAOkThenForward)[0]!;
    rejected(relayB(peers).router.route(aToB, forwarded), MsrpStatus.FORBIDDEN, 'peer-no-certificate');
  });

  it('403 for an AUTH to the relay with more URIs after it', () => {
    const head = { ...only(rfc4976.authInitial), toPath: ['msrps://intra.example.com:2855;tcp', BOB] };
    rejected(new Router(new FakeSessions(), identity('intra.example.com', 2855), new FakePeers()).route(alice, head), MsrpStatus.FORBIDDEN, 'auth-path');
  });
});

describe('Router across the mesh', () => {
  // Replica 0 of a.example.org; sessions starting "r1-" belong to replica 1.
  const meshLink = connection('mesh link to replica 1');
  const mesh: MeshRouting = {
    remoteOwner: (id) => (id.startsWith('r1-') ? 1 : undefined),
    isMesh: (c) => c === meshLink,
  };
  const forReplica1 = { ...only(rfc4976.sendToRelayA), toPath: ['msrps://a.example.org:9000/r1-kjfjan;tcp', 'msrps://b.example.net:9000/aeiug;tcp', BOB] };

  it('passes a request for a session of another replica to that replica, paths as they arrived', () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), mesh);
    const route = forward(router.route(alice, forReplica1));
    assert.deepEqual(route.next, { kind: 'mesh', ordinal: 1 });
    assert.equal(route.session, undefined, "the owner accounts for its session's traffic");
    assert.deepEqual(route.head.toPath, forReplica1.toPath);
    assert.deepEqual(route.head.fromPath, forReplica1.fromPath);
    assert.notEqual(route.head.transactionId, forReplica1.transactionId);
  });

  it('481 mesh-misrouted when a frame from the mesh is for a session this replica does not own', () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), mesh);
    rejected(router.route(meshLink, forReplica1), MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-misrouted');
  });

  it("checks a foreign hop's certificate on the replica it entered by, before the mesh", () => {
    const peers = new FakePeers();
    peers.refusal = { reason: 'peer-certificate-untrusted', comment: 'untrusted' };
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), peers, mesh);
    rejected(router.route(bToA, forReplica1), MsrpStatus.FORBIDDEN, 'peer-certificate-untrusted');
  });

  it('481 for an AUTH refreshing a session another replica owns', () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), mesh);
    rejected(router.route(alice, { ...forReplica1, method: 'AUTH' }), MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown-session');
  });

  it("a REPORT from the mesh for a foreign hop goes on to that hop (the owner's failure report)", () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), mesh);
    const report = requests(rfc4976.reportForwarded)[1]!; // To-Path: Alice only, not this relay
    const route = forward(router.route(meshLink, report));
    assert.equal(route.next.kind === 'remote' && route.next.uri.host, 'alice.example.org');
    assert.deepEqual(route.head.toPath, report.toPath);
  });
});

describe('Router across the workers of a replica', () => {
  // Worker 0 of replica 0 of a.example.org (relay-workers.ts replicaRouting): ids `r0-w1-…` are
  // worker 1's, `r1-…` replica 1's.
  const podLink = connection('mesh link from replica 1');
  const workerLink = connection('link from worker 1');
  const routing: MeshRouting = {
    remoteOwner: (id) => (id.startsWith('r1-') ? 1 : undefined),
    isMesh: (c) => c === podLink || c === workerLink,
    otherWorker: (id) => (id.startsWith('r0-w1-') ? 1 : undefined),
    isWorkerLink: (c) => c === workerLink,
  };
  const forWorker1 = { ...only(rfc4976.sendToRelayA), toPath: ['msrps://a.example.org:9000/r0-w1-kjfjan;tcp', 'msrps://b.example.net:9000/aeiug;tcp', BOB] };

  it('passes a request for a session of another worker to that worker, paths as they arrived', () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), routing);
    const route = forward(router.route(alice, forWorker1));
    assert.deepEqual(route.next, { kind: 'worker', worker: 1 });
    assert.deepEqual(route.head.toPath, forWorker1.toPath);
    assert.deepEqual(route.head.fromPath, forWorker1.fromPath);
  });

  it('passes a frame from another replica on to the owner worker, without a second certificate check', () => {
    const peers = new FakePeers();
    peers.refusal = { reason: 'peer-certificate-untrusted', comment: 'the mesh link has no relay certificate' };
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), peers, routing);
    assert.deepEqual(forward(router.route(podLink, forWorker1)).next, { kind: 'worker', worker: 1 });
    assert.equal(peers.asked.length, 0, 'the replica it entered by checked the foreign hop');
  });

  it('checks a foreign hop on the worker it entered by', () => {
    const peers = new FakePeers();
    peers.refusal = { reason: 'peer-certificate-untrusted', comment: 'untrusted' };
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), peers, routing);
    rejected(router.route(bToA, forWorker1), MsrpStatus.FORBIDDEN, 'peer-certificate-untrusted');
  });

  it('481 mesh-misrouted for a frame from another worker for a session this worker does not own, and for an AUTH', () => {
    const router = new Router(new FakeSessions(), identity('a.example.org', 9000), new FakePeers(), routing);
    rejected(router.route(workerLink, forWorker1), MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-misrouted');
    const forReplica1 = { ...forWorker1, toPath: ['msrps://a.example.org:9000/r1-kjfjan;tcp', ...forWorker1.toPath.slice(1)] };
    rejected(router.route(workerLink, forReplica1), MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-misrouted');
    rejected(router.route(alice, { ...forWorker1, method: 'AUTH' }), MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown-session');
  });
});
