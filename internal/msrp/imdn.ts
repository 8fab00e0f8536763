// Instant Message Disposition Notification (RFC 5438) as far as a message switch needs it:
// which CPIM messages are notifications, and what a message asks to be notified of.
//
// RFC 5438 (abstract, read): IMDN extends the CPIM data format (RFC 3862) with header
// fields in the "urn:ietf:params:imdn" namespace with which a sender requests delivery,
// processing and display notifications, and defines a new message format,
// message/imdn+xml, that carries them. A notification travels like any other CPIM message:
// its CPIM From is the recipient that reports, its CPIM To the sender of the message it
// reports on. The switch reads only the CPIM headers; the XML body goes through untouched.
import { parseContentType } from './headers.ts';
import type { CpimMessage } from './cpim.ts';

/** The IMDN header namespace (RFC 5438). */
export const IMDN_NAMESPACE = 'urn:ietf:params:imdn';

/** The disposition notifications a message can ask for (imdn.Disposition-Notification). */
export type DispositionRequest = 'positive-delivery' | 'negative-delivery' | 'processing' | 'display';

const KNOWN: ReadonlySet<string> = new Set<DispositionRequest>(['positive-delivery', 'negative-delivery', 'processing', 'display']);

/** True when the CPIM payload is a disposition notification (Content-Type message/imdn+xml). */
export function isDispositionNotification(m: Pick<CpimMessage, 'contentType'>): boolean {
  if (m.contentType === undefined) return false;
  const ct = parseContentType(m.contentType);
  return ct.ok && ct.value.type === 'message' && ct.value.subtype === 'imdn+xml';
}

/** The imdn.Message-ID of a message, when it carries one. */
export function imdnMessageId(m: Pick<CpimMessage, 'headers'>): string | undefined {
  return imdnHeader(m, 'message-id')?.trim();
}

/**
 * The notifications a message asks for (imdn.Disposition-Notification, a comma-separated
 * list); empty when it asks for none. Unknown values are left out (ignored, not refused).
 */
export function dispositionRequests(m: Pick<CpimMessage, 'headers'>): DispositionRequest[] {
  const out: DispositionRequest[] = [];
  for (const h of m.headers) {
    if (h.namespace !== IMDN_NAMESPACE || h.name.toLowerCase() !== 'disposition-notification') continue;
    for (const v of h.value.split(',')) {
      const k = v.trim().toLowerCase();
      if (KNOWN.has(k) && !out.includes(k as DispositionRequest)) out.push(k as DispositionRequest);
    }
  }
  return out;
}

function imdnHeader(m: Pick<CpimMessage, 'headers'>, lowerName: string): string | undefined {
  return m.headers.find((h) => h.namespace === IMDN_NAMESPACE && h.name.toLowerCase() === lowerName)?.value;
}
