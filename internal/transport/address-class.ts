// Which part of the address space an IP address belongs to, decided on the number, never on
// the spelling: "0:0:0:0:0:0:0:1", "::ffff:7f00:1" and "64:ff9b::127.0.0.1" are all loopback.
// Used wherever an address we are about to dial, or to let a client name, must be public:
// the relay's next hops (SSRF guard, docs/security.md) and the chat focus's media admission.
//
// Ranges: the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and updates).
// Addresses that carry an IPv4 address inside an IPv6 one are judged by the IPv4 address:
// IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2), SIIT ::ffff:0:0:0/96 (RFC 6145),
// IPv4-compatible ::/96 (deprecated, RFC 4291 §2.5.5.1), NAT64 64:ff9b::/96 (RFC 6052) and the
// local-use 64:ff9b:1::/48 in its /96 form (RFC 8215), 6to4 2002::/16 (RFC 3056). IPv6 outside
// 2000::/3 (the only global unicast allocation) is not public whatever it is.
import { BlockList, isIP } from 'node:net';
import { parseIPv6 } from '../msrp/ip.ts';

export type AddressClass =
  | 'public'
  | 'unspecified' // 0.0.0.0/8, ::/128
  | 'loopback' // 127.0.0.0/8, ::1
  | 'private' // RFC 1918; a local-use NAT64 prefix that embeds no IPv4 address we can read
  | 'shared' // 100.64.0.0/10, carrier-grade NAT (RFC 6598)
  | 'link-local' // 169.254.0.0/16, fe80::/10
  | 'unique-local' // fc00::/7 (RFC 4193)
  | 'site-local' // fec0::/10 (deprecated by RFC 3879, still routed by some stacks)
  | 'protocol' // 192.0.0.0/24, IETF protocol assignments (RFC 6890)
  | 'documentation' // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
  | 'benchmarking' // 198.18.0.0/15, 2001:2::/48
  | 'multicast' // 224.0.0.0/4, ff00::/8
  | 'broadcast' // 255.255.255.255
  | 'reserved' // 240.0.0.0/4, 192.88.99/24, 100::/64, Teredo, ORCHID, IPv6 outside 2000::/3
  | 'invalid'; // not an IP address at all

type Ranges = readonly (readonly [AddressClass, string, number])[];

// Order matters: the first list that holds the address names its class.
const V4: Ranges = [
  ['broadcast', '255.255.255.255', 32],
  ['unspecified', '0.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['shared', '100.64.0.0', 10],
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16],
  ['private', '172.16.0.0', 12],
  ['protocol', '192.0.0.0', 24],
  ['documentation', '192.0.2.0', 24],
  ['reserved', '192.88.99.0', 24],
  ['private', '192.168.0.0', 16],
  ['benchmarking', '198.18.0.0', 15],
  ['documentation', '198.51.100.0', 24],
  ['documentation', '203.0.113.0', 24],
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4],
];

const V6: Ranges = [
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '100::', 64], // discard-only (RFC 6666)
  ['reserved', '2001::', 32], // Teredo: a tunnel, never a peer's address
  ['benchmarking', '2001:2::', 48],
  ['reserved', '2001:10::', 28], // ORCHID
  ['reserved', '2001:20::', 28], // ORCHIDv2
  ['documentation', '2001:db8::', 32],
  ['documentation', '3fff::', 20],
  ['unique-local', 'fc00::', 7],
  ['link-local', 'fe80::', 10],
  ['site-local', 'fec0::', 10],
  ['multicast', 'ff00::', 8],
];

function lists(ranges: Ranges, family: 'ipv4' | 'ipv6'): (readonly [AddressClass, BlockList])[] {
  const out: (readonly [AddressClass, BlockList])[] = [];
  for (const [cls, net, prefix] of ranges) {
    // One list per range, in order, so the first match wins (a BlockList only says yes or no).
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    out.push([cls, list]);
  }
  return out;
}

const V4_LISTS = lists(V4, 'ipv4');
const V6_LISTS = lists(V6, 'ipv6');

/** The class of an IPv4 or IPv6 address (a zone id, "%eth0", is ignored); 'invalid' for anything else. */
export function classifyAddress(address: string): AddressClass {
  const percent = address.indexOf('%');
  const a = percent === -1 ? address : address.slice(0, percent);
  const family = isIP(a);
  if (family === 4) return classify4(a);
  if (family !== 6) return 'invalid';
  const g = parseIPv6(a);
  if (g === null) return 'invalid';
  const embedded = embeddedIPv4(g);
  if (embedded !== undefined) return classify4(embedded);
  // 64:ff9b:1::/48 is for NAT64 inside one network (RFC 8215): its other forms lead inward.
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'private';
  for (const [cls, list] of V6_LISTS) if (list.check(a, 'ipv6')) return cls;
  return ((g[0] ?? 0) & 0xe000) === 0x2000 ? 'public' : 'reserved';
}

/** True only for a globally reachable unicast address (see classifyAddress). */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === 'public';
}

function classify4(a: string): AddressClass {
  for (const [cls, list] of V4_LISTS) if (list.check(a, 'ipv4')) return cls;
  return 'public';
}

/** The IPv4 address an IPv6 address carries by one of the translation or tunnel formats above. */
function embeddedIPv4(g: number[]): string | undefined {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero4 = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0;
  if (zero4 && g4 === 0 && g5 === 0xffff) return v4(g6, g7); // ::ffff:a.b.c.d
  if (zero4 && g4 === 0xffff && g5 === 0) return v4(g6, g7); // ::ffff:0:a.b.c.d
  if (zero4 && g4 === 0 && g5 === 0 && (g6 !== 0 || g7 > 1)) return v4(g6, g7); // ::a.b.c.d, not :: or ::1
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1 && g3 === 0 && g4 === 0 && g5 === 0) return v4(g6, g7);
  if (g0 === 0x2002) return v4(g1, g2); // 6to4
  return undefined;
}
