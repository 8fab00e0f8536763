// SipUac's client transactions (RFC 3261 §17.1) against a "focus" that this test plays over
// real loopback sockets: it drops, delays or duplicates responses, and counts the copies of
// each request the UAC sent. T1 is shortened so that Timer B/F (64*T1) fire in milliseconds.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { callId, cseq, topVia } from '../sip/fields.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { parseDatagram, SipStreamFramer } from '../sip/parser.ts';
import { buildResponse } from '../sip/responses.ts';
import { serialize } from '../sip/serializer.ts';
import { eventually } from '../testwait.ts';
import { offerSdp, SipUac } from './sip-uac.ts';

interface Copy {
  readonly at: number;
  readonly req: SipRequest;
}

type Answer = (req: SipRequest, copy: number, reply: (res: SipResponse) => void) => void;

/** A UDP focus on 127.0.0.1: `answer` sees each request with its copy number (1-based, per method). */
async function udpFocus(answer: Answer): Promise<{ port: number; copies: Copy[]; of(method: string): Copy[]; close(): void }> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const copies: Copy[] = [];
  const of = (method: string) => copies.filter((c) => c.req.method === method);
  s.on('message', (d, rinfo) => {
    const p = parseDatagram(d);
    if (!p?.ok || p.value.kind !== 'request') return;
    const req = p.value;
    copies.push({ at: performance.now(), req });
    answer(req, of(req.method).length, (res) => s.send(serialize(res), rinfo.port, rinfo.address));
  });
  return { port: s.address().port, copies, of, close: () => s.close() };
}

const ok = (req: SipRequest, status = 200): SipResponse => buildResponse(req, status, 'focus', { headers: [['Contact', '<sip:focus@127.0.0.1>']] });

const gaps = (copies: Copy[]): number[] => copies.slice(1).map((c, i) => c.at - copies[i]!.at);

/**
 * Orders "no further copy": a probe OPTIONS (its own Call-ID) from the same UAC socket reaches
 * the focus after anything the UAC sent before it (one socket to one, over loopback, in order).
 * Without it, a copy already sent could still be unread at the focus when the test counts.
 * The probe may stay unanswered: its failure is ignored.
 */
async function probe(uac: SipUac, seen: (callId: string) => boolean): Promise<void> {
  const d = uac.newDialog('sip:lobby@chat.test');
  void uac.send(d, 'OPTIONS').catch(() => undefined);
  await eventually(() => seen(d.callId), 'the probe OPTIONS at the focus');
}

const seenBy = (focus: { of(method: string): Copy[] }) => (id: string): boolean => focus.of('OPTIONS').some((c) => callId(c.req) === id);

/** The copies are retransmissions of one request: same branch and CSeq (RFC 3261 §17.1.1.2). */
function assertSameRequest(copies: Copy[]): void {
  const ids = new Set(copies.map((c) => `${topVia(c.req)?.branch} ${cseq(c.req)?.seq} ${cseq(c.req)?.method}`));
  assert.equal(ids.size, 1, `copies of one request, got ${[...ids].join(' | ')}`);
}

describe('SipUac over UDP', () => {
  it('resends an INVITE on Timer A, doubling from T1, until the focus answers, then stops', async () => {
    const t1 = 20;
    const focus = await udpFocus((req, n, reply) => {
      if (req.method === 'OPTIONS' || (req.method === 'INVITE' && n === 4)) reply(ok(req));
    });
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: t1 });
    try {
      // Warm the path first: the first datagram of a socket can be a few ms late, which would skew gap 0.
      assert.equal((await uac.send(uac.newDialog('sip:lobby@chat.test'), 'OPTIONS')).status, 200);
      const d = uac.newDialog('sip:lobby@chat.test');
      const res = await uac.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') });
      assert.equal(res.status, 200);
      assert.equal(d.toTag, 'focus');
      const invites = focus.of('INVITE');
      assert.equal(invites.length, 4, 'three copies dropped, the fourth answered');
      assertSameRequest(invites);
      const g = gaps(invites);
      // Nominal 20, 40, 80 ms, seen at the receiver (delivery jitter of a few ms): growing, none much shorter.
      g.forEach((gap, i) => assert.ok(gap >= (t1 * 2 ** i) / 2, `gap ${i} is ${gap.toFixed(1)} ms, want about ${t1 * 2 ** i}`));
      assert.ok(g[1]! > g[0]! && g[2]! > g[1]!, `intervals double: ${g.map((x) => x.toFixed(1)).join(', ')}`);
      // The next Timer A would fire 8*T1 after the fourth copy; wait past it (a wait on the
      // clock the timer runs on), then read everything the UAC sent up to now.
      await sleep(12 * t1);
      await probe(uac, seenBy(focus));
      assert.equal(focus.of('INVITE').length, 4, 'no copy after the 200');
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('stops resending an INVITE once a provisional response arrives (RFC 3261 §17.1.1.2)', async () => {
    const t1 = 20;
    const focus = await udpFocus((req, n, reply) => {
      if (req.method !== 'INVITE' || n !== 2) return;
      reply(buildResponse(req, 180, 'focus'));
      setTimeout(() => reply(ok(req)), 15 * t1);
    });
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: t1 });
    try {
      const res = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') });
      assert.equal(res.status, 200, 'the 180 is not the answer');
      assert.equal(focus.of('INVITE').length, 2, 'no copy after the 180 (without it: 4 more within 15*T1)');
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('switches a non-INVITE to T2 after 100 Trying and resolves once on its duplicated 200', async () => {
    const t1 = 20;
    const t2 = 200;
    const focus = await udpFocus((req, n, reply) => {
      if (req.method === 'OPTIONS') reply(ok(req));
      if (req.method !== 'SUBSCRIBE') return;
      if (n === 1) reply(buildResponse(req, 100, undefined));
      if (n === 3) {
        reply(ok(req));
        reply(ok(req)); // a duplicate, as a retransmitting server would send
      }
    });
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: t1, t2Ms: t2 });
    try {
      const res = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'conference']] });
      assert.equal(res.status, 200);
      const subs = focus.of('SUBSCRIBE');
      assert.equal(subs.length, 3);
      assertSameRequest(subs);
      const g = gaps(subs);
      // The first Timer E (T1) was already running when the 100 came; the next one is T2 (without the switch: 2*T1).
      assert.ok(g[1]! >= t2 - 10, `interval after 100 Trying is ${g[1]!.toFixed(1)} ms, want >= T2 (${t2})`);
      // The UAC answers nothing to responses, and a later request gets its own response, not the duplicate.
      const again = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'OPTIONS');
      assert.equal(again.status, 200);
      assert.equal(cseq(again)?.method, 'OPTIONS');
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('answers a retransmitted 2xx to its INVITE with the same ACK again (RFC 3261 §13.2.2.4)', async () => {
    let invite: SipRequest | undefined;
    const focus = await udpFocus((req, n, reply) => {
      if (req.method === 'INVITE' && n === 1) invite = req;
      // The 200, and once more on the first ACK, as if that ACK had been lost.
      if (invite && (req.method === 'INVITE' || n === 1)) reply(ok(invite));
    });
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: 20 });
    try {
      const d = uac.newDialog('sip:lobby@chat.test');
      const res = await uac.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') });
      assert.equal(res.status, 200);
      await uac.send(d, 'ACK');
      await eventually(() => focus.of('ACK').length >= 2, 'a second ACK');
      const acks = focus.of('ACK');
      assert.equal(acks.length, 2, 'the retransmitted 200 is ACKed again');
      assert.equal(serialize(acks[0]!.req).toString(), serialize(acks[1]!.req).toString());
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('fails an unanswered INVITE after 64*T1 with "no response from the focus" and stops resending', async () => {
    const t1 = 10;
    const focus = await udpFocus(() => undefined);
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: t1 });
    try {
      const start = performance.now();
      await assert.rejects(uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') }),
        /^Error: no response to INVITE from the focus after 0\.64 s$/);
      assert.ok(performance.now() - start >= 64 * t1 - 2, 'Timer B is 64*T1');
      // Sent at 0, 10, 30, 70, 150, 310 and maybe 630 ms; the probe makes sure all have been read.
      await probe(uac, seenBy(focus));
      const n = focus.of('INVITE').length;
      assert.ok(n >= 6 && n <= 7, `${n} copies`);
      // A Timer A still running would send its next copy at 1270 ms (2 * 630 + 10): wait past
      // that (the old 10*T1 pause ended before any copy could be due), then probe.
      await sleep(64 * t1);
      await probe(uac, seenBy(focus));
      assert.equal(focus.of('INVITE').length, n, 'no copy after Timer B');
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('fails an unanswered non-INVITE after 64*T1, resending at most every T2', async () => {
    const t1 = 10;
    const focus = await udpFocus(() => undefined);
    const uac = await SipUac.open('UDP', focus.port, 'alice', '127.0.0.1', { t1Ms: t1, t2Ms: 4 * t1 });
    try {
      await assert.rejects(uac.send(uac.newDialog('sip:lobby@chat.test'), 'BYE'), /^Error: no response to BYE from the focus after 0\.64 s$/);
      // Capped at T2: 0, 10, 30, 70, 110, ... 630 is 18 copies; uncapped doubling would be 7.
      const n = focus.of('BYE').length;
      assert.ok(n >= 10, `${n} copies`);
      assertSameRequest(focus.of('BYE'));
    } finally {
      uac.close();
      focus.close();
    }
  });

  it('fails a waiting request on close() and leaves no timer holding the process', { timeout: 5000 }, async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const focus = await udpFocus(() => undefined);
    const uac = await SipUac.open('UDP', focus.port); // RFC timers: 500 ms, Timer B at 32 s
    try {
      const before = timeouts();
      const pending = uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') });
      assert.equal(timeouts(), before, 'Timer A and Timer B are unref\'d');
      await eventually(() => focus.of('INVITE').length > 0, 'the INVITE at the focus');
      uac.close();
      await assert.rejects(pending, /^Error: no response to INVITE: the SIP client was closed$/);
      await assert.rejects(uac.send(uac.newDialog('sip:lobby@chat.test'), 'BYE'), /closed/);
      assert.equal(focus.of('INVITE').length, 1);
    } finally {
      uac.close();
      focus.close();
    }
  });
});

describe('SipUac over TCP', () => {
  it('sends a request once, without retransmission, on a reliable transport (RFC 3261 §17.1.1.2)', async () => {
    const t1 = 20;
    const invites: SipRequest[] = [];
    const options: string[] = [];
    const conns: Socket[] = [];
    const server = createServer((sock) => {
      conns.push(sock);
      const framer = new SipStreamFramer({
        onMessage: (m) => {
          if (m.kind === 'request' && m.method === 'OPTIONS') options.push(callId(m) ?? '');
          if (m.kind !== 'request' || m.method !== 'INVITE') return;
          invites.push(m);
          // Answer late: over UDP, 4 copies would have gone out by then (0, 20, 60, 140 ms).
          if (invites.length === 1) setTimeout(() => sock.write(serialize(ok(m))), 10 * t1);
        },
        onError: () => undefined,
        onKeepAlive: () => undefined,
      });
      sock.on('data', (d: Buffer) => framer.push(d));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const uac = await SipUac.open('TCP', (server.address() as AddressInfo).port, 'alice', '127.0.0.1', { t1Ms: t1 });
    try {
      const res = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') });
      assert.equal(res.status, 200);
      // A copy would have been due at 20, 60 and 140 ms, before the 200 at 200 ms: a probe on
      // the same (ordered) connection arrives after any of them.
      await probe(uac, (id) => options.includes(id));
      assert.equal(invites.length, 1, 'one INVITE on TCP');
    } finally {
      uac.close();
      for (const c of conns) c.destroy();
      server.close();
    }
  });
});
