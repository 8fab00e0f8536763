// Test support: a tiny authoritative DNS server on UDP loopback (RFC 1035 wire format,
// written out here) that answers SRV (RFC 2782), A and AAAA (RFC 3596) from a zone held in
// memory, NXDOMAIN for names it does not know and an empty NOERROR answer (NODATA) for a
// known name without records of the asked type. Every question is recorded, so a test can
// tell which lookups the relay made. Point a resolver at it with `dns.Resolver#setServers`.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export interface SrvTarget {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface ZoneEntry {
  srv?: SrvTarget[];
  a?: string[];
  aaaa?: string[];
}

/** Record types by their RFC 1035 / 2782 / 3596 codes. */
const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const TTL = 5;

export interface TestDnsServer {
  /** `127.0.0.1:port`, for setServers / nextHops.dnsServers. */
  readonly address: string;
  /** Names and types asked for, in order, e.g. `SRV _msrps._tcp.relay.test`. */
  readonly queries: string[];
  /** Name (lower-case, no trailing dot) → records; change it at any time. */
  readonly zone: Map<string, ZoneEntry>;
  close(): Promise<void>;
}

export async function startTestDns(zone: Record<string, ZoneEntry> = {}): Promise<TestDnsServer> {
  const records = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    const reply = answer(msg, records, queries);
    if (reply !== undefined) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    zone: records,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The response to one query message, or undefined when it cannot be parsed (dropped, as a server would). */
function answer(msg: Buffer, zone: Map<string, ZoneEntry>, queries: string[]): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qdcount = msg.readUInt16BE(4);
  if ((flags & 0x8000) !== 0 || qdcount !== 1) return undefined; // a response, or not one question
  const q = readName(msg, 12);
  if (q === undefined || q.end + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(q.end);
  const qclass = msg.readUInt16BE(q.end + 2);
  const question = msg.subarray(12, q.end + 4); // echoed as sent (case and all)
  const name = q.name.toLowerCase();
  const typeName = Object.entries(TYPE).find(([, v]) => v === qtype)?.[0] ?? String(qtype);
  queries.push(`${typeName} ${name}`);

  const entry = zone.get(name);
  const answers: Buffer[] = [];
  let rcode = 0;
  if (qclass !== CLASS_IN) rcode = RCODE_NOTIMP;
  else if (entry === undefined) rcode = RCODE_NXDOMAIN;
  else if (qtype === TYPE.SRV) for (const s of entry.srv ?? []) answers.push(rr(qtype, srvData(s)));
  else if (qtype === TYPE.A) for (const a of entry.a ?? []) answers.push(rr(qtype, ipv4(a)));
  else if (qtype === TYPE.AAAA) for (const a of entry.aaaa ?? []) answers.push(rr(qtype, ipv6(a)));

  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR=1, opcode 0, AA=1, RD copied from the query, RA=1, rcode.
  header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(answers.length, 6); // ANCOUNT
  // NSCOUNT, ARCOUNT 0 (the query's EDNS OPT record is not echoed: plain RFC 1035 answer)
  return Buffer.concat([header, question, ...answers]);
}

/** One resource record for the question's name (a compression pointer to offset 12, RFC 1035 §4.1.4). */
function rr(type: number, rdata: Buffer): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xc00c, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt16BE(CLASS_IN, 4);
  b.writeUInt32BE(TTL, 6);
  b.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([b, rdata]);
}

/** RFC 2782: priority, weight, port, then the target name (not compressed). */
function srvData(s: SrvTarget): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(s.priority, 0);
  b.writeUInt16BE(s.weight, 2);
  b.writeUInt16BE(s.port, 4);
  return Buffer.concat([b, encodeName(s.target)]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (const l of labels) {
    const bytes = Buffer.from(l, 'ascii');
    if (bytes.length > 63) throw new RangeError(`DNS label too long: ${l}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A (possibly compressed) name at `offset`; `end` is where the field ends in the message. */
function readName(msg: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let end: number | undefined;
  for (let jumps = 0; jumps < 16; ) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos]!;
    if (len === 0) return { name: labels.join('.'), end: end ?? pos + 1 };
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined;
      end ??= pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      jumps++;
      continue;
    }
    if (pos + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('ascii', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return undefined;
}

function ipv4(a: string): Buffer {
  if (isIP(a) !== 4) throw new TypeError(`not an IPv4 address: ${a}`);
  return Buffer.from(a.split('.').map(Number));
}

function ipv6(a: string): Buffer {
  if (isIP(a) !== 6) throw new TypeError(`not an IPv6 address: ${a}`);
  const [head = '', tail = ''] = a.split('::') as [string, string?];
  const h = head === '' ? [] : head.split(':');
  const t = a.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}
