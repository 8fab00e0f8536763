// The focus's judgement of an INVITE's offer before the switch sees it (RFC 7701 §5,
// RFC 4975 §8, RFC 3264 §6). Pure: an SDP body and where it came from in, either the
// MSRP media to admit or the SIP status (with a Warning, RFC 3261 §20.43) to refuse with.
//
//   no body / no m=message TCP(/TLS)/MSRP line  → 488, Warning 304 "Media type not available"
//   accept-types without message/cpim (or *)    → 488, Warning 305 "Incompatible media format"
//                                                  (RFC 7701 §5.1: the switch speaks CPIM),
//                                                  unless a=file-selector (file-transfer.ts)
//   a=path first hop on a private address       → 488, Warning 399, when media.privateAddresses = deny
//   a=path first hop not the SIP source address → 488, Warning 399, when media.foreignAddresses = deny
//   unparsable SDP                              → 400 (the request is malformed, RFC 3261 §21.4.1)
import { parseIPv6, parseMsrpUri } from '../../msrp/uri.ts';
import { classifyAddress } from '../../transport/address-class.ts';
import { findMsrpMedia, type MsrpMedia } from '../../sip/sdp-msrp.ts';
import { parseSdp, type SessionDescription } from '../../sip/sdp.ts';

export interface MediaPolicy {
  /** A first hop on a loopback, private, link-local or CGN address (what a client behind NAT writes). */
  readonly privateAddresses: 'allow' | 'deny';
  /**
   * A first hop that is not the address the SIP request came from: a client naming a
   * third party's MSRP endpoint (a reflection vector when the focus connects or a relay
   * trusts the path). Relays listed in `trustedHosts` are not foreign.
   */
  readonly foreignAddresses: 'allow' | 'deny';
  readonly trustedHosts?: readonly string[];
}

export const LAB_MEDIA_POLICY: MediaPolicy = { privateAddresses: 'allow', foreignAddresses: 'allow' };

export type OfferCheck =
  | { readonly ok: true; readonly sdp: SessionDescription; readonly media: MsrpMedia }
  | { readonly ok: false; readonly status: 400 | 488; readonly warnCode: number | undefined; readonly text: string };

/**
 * RFC 6135 a=setup of our answer, as the switch acts on it: an offer that says passive
 * (it waits for a connection, e.g. a client with a listening relay or a server peer) is
 * answered active and the switch connects to the first hop of its a=path; anything else
 * (active, actpass, none: RFC 4975 §8.5's default, the offerer connects) is answered
 * passive, so clients behind NAT connect out. The policy checks on the first hop
 * (private / foreign addresses) matter most here: they are where the switch would connect.
 */
export function answerSetup(media: MsrpMedia): 'active' | 'passive' {
  return media.setup === 'passive' ? 'active' : 'passive';
}

/** RFC 7701 §5.1 and RFC 4975 §8.6 ("*" accepts anything). */
export function acceptsCpim(acceptTypes: readonly string[]): boolean {
  return acceptTypes.some((t) => t === '*' || t.toLowerCase() === 'message/cpim' || t.toLowerCase() === 'message/*');
}

export function checkOffer(body: Buffer, sourceAddress: string, policy: MediaPolicy): OfferCheck {
  const refuse = (warnCode: number, text: string): OfferCheck => ({ ok: false, status: 488, warnCode, text });
  // RFC 3261 §13.2.1 allows an INVITE without offer (the offer then comes in our 2xx and the
  // answer in the ACK); a chat room has nothing to offer without knowing the client's path.
  if (body.length === 0) return refuse(304, 'an MSRP offer is required in the INVITE');
  const parsed = parseSdp(body);
  if (!parsed.ok) return { ok: false, status: 400, warnCode: undefined, text: `bad SDP: ${parsed.error.message}` };
  const found = findMsrpMedia(parsed.value);
  if (!found.ok) return refuse(304, found.error.message);
  const media = found.value;
  // A file transfer (RFC 5547, file-transfer.ts) may offer its file's type alone.
  if (media.fileSelector === undefined && !acceptsCpim(media.acceptTypes)) return refuse(305, 'a=accept-types must include message/cpim (RFC 7701 §5.1)');
  const first = parseMsrpUri(media.path[0] ?? '');
  if (!first.ok) return refuse(399, `a=path first hop is not an MSRP URI: ${first.error.message}`);
  const host = first.uri.host;
  const trusted = (policy.trustedHosts ?? []).some((h) => h.toLowerCase() === host.toLowerCase());
  if (!trusted && policy.privateAddresses === 'deny' && isPrivateHost(host)) {
    return refuse(399, `a=path points at a private address (${host}), refused by policy`);
  }
  if (!trusted && policy.foreignAddresses === 'deny' && !sameAddress(host, sourceAddress)) {
    return refuse(399, `a=path host ${host} is not the request's source ${sourceAddress}, refused by policy`);
  }
  return { ok: true, sdp: parsed.value, media };
}

/**
 * "localhost", or an IP literal that is not public unicast (loopback, RFC 1918, CGN,
 * link-local, ULA, site-local, multicast, documentation..., also inside IPv4-mapped, NAT64
 * or 6to4 IPv6 addresses), judged on the number (transport/address-class.ts). Other names: false.
 */
export function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h.toLowerCase() === 'localhost') return true;
  const cls = classifyAddress(h);
  return cls !== 'invalid' && cls !== 'public';
}

function sameAddress(a: string, b: string): boolean {
  const norm = (s: string) => {
    const h = s.replace(/^\[|\]$/g, '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
    const v6 = parseIPv6(h);
    return v6 ? v6.join(':') : h.toLowerCase();
  };
  return norm(a) === norm(b);
}

/** A Warning header value (RFC 3261 §20.43): warn-code SP warn-agent SP warn-text. */
export function warning(code: number, agent: string, text: string): string {
  return `${code} ${agent} "${text.replace(/["\\]/g, "'")}"`;
}
