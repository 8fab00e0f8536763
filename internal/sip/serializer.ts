// SIP message serializer, the mirror of parser.ts (RFC 3261 §7). Each header entry is
// written on its own line; list headers may be joined with commas instead. Content-Length
// is always written from the body (RFC 3261 §18.3, §20.14: mandatory on streams and
// harmless on datagrams), so `parse(serialize(m))` gives `m` back.

import { compactName, isListHeader } from './headers.ts';
import { SIP_VERSION, type SipMessage } from './message.ts';

export interface SerializeOptions {
  /** Use compact header names (RFC 3261 §7.3.3), e.g. to keep a UDP message under the MTU. */
  readonly compact?: boolean;
  /** Join consecutive values of a list header into one comma-separated line. */
  readonly joinLists?: boolean;
}

export function serializeHead(msg: SipMessage, options: SerializeOptions = {}): string {
  const lines: string[] = [
    msg.kind === 'request' ? `${msg.method} ${msg.uri} ${SIP_VERSION}` : `${SIP_VERSION} ${msg.status} ${msg.reason}`,
  ];
  let previous = '';
  for (const h of msg.headers) {
    const name = (options.compact === true ? compactName(h.name) : undefined) ?? h.name;
    if (options.joinLists === true && h.name === previous && isListHeader(h.name) && h.value !== '') {
      lines[lines.length - 1] += `, ${h.value}`;
      continue;
    }
    lines.push(`${name}: ${h.value}`);
    previous = h.name;
  }
  lines.push(`${(options.compact === true ? 'l' : 'Content-Length')}: ${msg.body.length}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

export function serialize(msg: SipMessage, options: SerializeOptions = {}): Buffer {
  const head = Buffer.from(serializeHead(msg, options), 'utf8');
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}
