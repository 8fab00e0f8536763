// Finding an MSRP node by DNS (RFC 4976 §8), shared by the relay's next hops
// (relay/next-hops.ts) and the `msrp` client's --relay (client/connect.ts): the SRV records
// `_msrps._tcp.<host>` (`_msrp._tcp` for msrp:) in RFC 2782 order, and a name's A/AAAA
// addresses, from the system resolver or from configured DNS servers only.
//
// RFC 4976 §8: a URI with an explicit port (or an IP literal) is dialled there; only a name
// without a port (the relay URI a client is configured with, the To-Path of an AUTH) goes
// through SRV, and with no SRV record the name's A/AAAA records on port 2855.
import { promises as dns, type SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { effectivePort, type MsrpUri } from '../msrp/uri.ts';

/** One SRV target in the order to try it. */
export interface SrvTarget {
  readonly name: string;
  readonly port: number;
}

/**
 * How targets of one priority are ordered: `weighted` is RFC 2782's weighted random choice
 * (what a client does, spreading load over the targets); `heaviest-first` a deterministic
 * reading of it, the heaviest target first (the relay's next hops: the same peer for every
 * session, which keeps one connection per peer, RFC 4976 §6).
 */
export type SrvChoice = 'weighted' | 'heaviest-first';

/**
 * RFC 2782: lowest priority first; within one priority, targets by weight (see SrvChoice).
 * A target "." (the service is decidedly not available there) is left out, so a result
 * shorter than the input can be empty: the caller tells "no SRV records" from that.
 * `random` returns [0, 1) like Math.random (a test passes its own).
 */
export function orderSrv(records: readonly SrvRecord[], choice: SrvChoice, random: () => number = Math.random): SrvTarget[] {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const out: SrvTarget[] = [];
  for (const p of priorities) {
    const group = usable.filter((r) => r.priority === p);
    if (choice === 'heaviest-first') {
      group.sort((a, b) => b.weight - a.weight);
      for (const r of group) out.push({ name: r.name, port: r.port });
      continue;
    }
    // RFC 2782's selection: zero-weight records first, then repeatedly a random number in
    // [0, sum of weights] picks the first record whose running sum reaches it; that record
    // is next, and the draw repeats over the rest. A zero weight is chosen only by a draw
    // of 0 while it is still in the list (rarely, as RFC 2782 intends).
    const rest = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight !== 0)];
    while (rest.length > 0) {
      const total = rest.reduce((n, r) => n + r.weight, 0);
      const draw = Math.floor(random() * (total + 1));
      let sum = 0;
      let i = rest.findIndex((r) => (sum += r.weight) >= draw);
      if (i < 0) i = rest.length - 1;
      const [r] = rest.splice(i, 1);
      out.push({ name: r!.name, port: r!.port });
    }
  }
  return out;
}

/** A resolver asking `servers` only (`address`, `address:port`, `[v6]:port`); throws on a malformed address. */
export function dnsResolver(servers: readonly string[], timeoutMs: number): dns.Resolver {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  resolver.setServers([...servers]);
  return resolver;
}

/** The SRV service name for a URI scheme and host: `_msrps._tcp.example.net`. */
export function srvName(scheme: 'msrp' | 'msrps', host: string): string {
  return `_${scheme}._tcp.${host}`;
}

/**
 * The SRV records at `name`: an empty list when there are none (NXDOMAIN, NODATA), the
 * error for anything else (timeouts, SERVFAIL) so a caller can say why it fell back.
 */
export async function lookupSrv(resolver: dns.Resolver | undefined, name: string): Promise<{ records: SrvRecord[] } | { error: Error }> {
  try {
    return { records: await (resolver ?? dns).resolveSrv(name) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { records: [] };
    return { error: err as Error };
  }
}

/**
 * A and AAAA addresses of `name` (IPv4 first); throws when there are none. The system
 * resolver is getaddrinfo (it reads /etc/hosts); configured servers are asked with
 * resolve4/resolve6, which getaddrinfo would ignore.
 */
export async function addressesOf(resolver: dns.Resolver | undefined, name: string): Promise<string[]> {
  if (resolver === undefined) return (await dns.lookup(name, { all: true })).map((a) => a.address);
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const out = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (out.length === 0) throw (v4.status === 'rejected' ? v4.reason : new Error(`no A/AAAA record for ${name}`)) as Error;
  return out;
}

/** One address to try, with the name it came from (SRV target or URI host) for messages. */
export interface SrvCandidate {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

/**
 * The addresses to try for `uri`, in order (RFC 4976 §8): an IP literal as is; a name with a
 * port by its A/AAAA records; a name without a port by SRV `_msrp(s)._tcp.<name>` (RFC 2782
 * order, each target's addresses in turn), else, only when there is no SRV record (or the
 * lookup failed), its A/AAAA records on port 2855. A sole "." target (the service is decidedly
 * not offered, RFC 2782) or SRV targets that do not resolve are an answer, not a reason to
 * fall back. `message` says why there is nothing to try.
 */
export async function findTargets(resolver: dns.Resolver | undefined, uri: MsrpUri, choice: SrvChoice): Promise<{ list: SrvCandidate[] } | { message: string }> {
  if (isIP(uri.host) !== 0) return { list: [{ name: uri.host, address: uri.host, port: effectivePort(uri) }] };
  const list: SrvCandidate[] = [];
  let srvNote = '';
  if (uri.port === undefined) {
    const name = srvName(uri.scheme, uri.host);
    const srv = await lookupSrv(resolver, name);
    if ('error' in srv) srvNote = `SRV ${name} failed (${srv.error.message}), `;
    else if (srv.records.length === 0) srvNote = `no SRV record ${name}, `;
    else {
      const targets = orderSrv(srv.records, choice);
      if (targets.length === 0) return { message: `${uri.host} says it offers no ${uri.scheme} service (SRV ${name} is ".")` };
      const unresolved: string[] = [];
      for (const t of targets) {
        const addresses = await addressesOf(resolver, t.name).catch((err: Error) => {
          unresolved.push(`${t.name}: ${err.message}`);
          return [];
        });
        for (const address of addresses) list.push({ name: t.name, address, port: t.port });
      }
      return list.length > 0 ? { list } : { message: `cannot resolve the SRV targets of ${name}: ${unresolved.join('; ')}` };
    }
  }
  const port = effectivePort(uri);
  try {
    for (const address of await addressesOf(resolver, uri.host)) list.push({ name: uri.host, address, port });
  } catch (err) {
    return { message: `cannot resolve ${uri.host}: ${srvNote}no A/AAAA record (${(err as Error).message})` };
  }
  return { list };
}
