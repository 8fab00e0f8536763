// Where requests came from and where responses go (RFC 3261 §18.2.1, §18.2.2; RFC 3581
// rport). Pure functions: internal/transport/sip.ts applies them to sockets.

import { formatVia, parseVia } from './fields.ts';
import type { SipRequest, SipResponse } from './message.ts';
import type { Destination } from './timers.ts';

const SIP_PORT = 5060;
const SIPS_PORT = 5061;

/**
 * RFC 3261 §18.2.1: add `received` to the top Via when sent-by is a name or another
 * address than the packet's source; RFC 3581 §4: fill an empty `rport` with the source
 * port (and then always add `received`).
 */
export function stampReceived(req: SipRequest, address: string, port: number): SipRequest {
  const index = req.headers.findIndex((h) => h.name === 'Via');
  if (index < 0) return req;
  const via = parseVia(req.headers[index]!.value);
  if (!via) return req;
  const host = via.host.replace(/^\[|\]$/g, '');
  const wantsRport = via.rport === true;
  if (host === address && !wantsRport) return req;
  const params = new Map(via.params);
  params.set('received', address);
  if (wantsRport) params.set('rport', String(port));
  const headers = [...req.headers];
  headers[index] = { name: 'Via', value: formatVia({ ...via, params }) };
  return { ...req, headers };
}

/**
 * RFC 3261 §18.2.2 for a response: reliable transports reuse the request's connection
 * (the transport falls back to `address:port` when it closed); UDP goes to `received`
 * (or sent-by) at `rport` (RFC 3581 §5) or at the sent-by port. maddr is not supported.
 */
export function responseDestination(res: SipResponse, source: Destination): Destination {
  const value = res.headers.find((h) => h.name === 'Via')?.value;
  const via = value === undefined ? undefined : parseVia(value);
  if (!via) return source;
  const address = via.received ?? via.host.replace(/^\[|\]$/g, '');
  const defaultPort = via.transport === 'TLS' ? SIPS_PORT : SIP_PORT;
  if (source.transport.toUpperCase() !== 'UDP') {
    const fallback = { transport: source.transport, address, port: via.port ?? defaultPort };
    return source.connectionId === undefined ? fallback : { ...fallback, connectionId: source.connectionId };
  }
  const port = typeof via.rport === 'number' ? via.rport : via.port ?? defaultPort;
  return { transport: 'UDP', address, port };
}
