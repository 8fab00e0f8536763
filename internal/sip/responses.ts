// Building a response to a request (RFC 3261 §8.2.6): Via, From, Call-ID and CSeq are
// copied, To is copied and gets the UAS tag (except on 100 Trying, §8.2.6.2), and the
// Record-Route of a dialog-creating request is copied into 1xx/2xx (§12.1.1).

import { headerValues, reasonPhrase, type SipHeader, type SipRequest, type SipResponse } from './message.ts';
import { canonicalName } from './headers.ts';

export interface ResponseOptions {
  readonly reason?: string;
  /** Extra headers, appended after the copied ones (names are canonicalised). */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer | string;
  /** Content-Type of the body (added when there is a body and no Content-Type header). */
  readonly contentType?: string;
}

export function buildResponse(req: SipRequest, status: number, toTag: string | undefined, options: ResponseOptions = {}): SipResponse {
  const headers: SipHeader[] = [];
  for (const value of headerValues(req, 'Via')) headers.push({ name: 'Via', value });
  if (status > 100 && status < 300 && (req.method === 'INVITE' || req.method === 'SUBSCRIBE' || req.method === 'REFER')) {
    for (const value of headerValues(req, 'Record-Route')) headers.push({ name: 'Record-Route', value });
  }
  for (const name of ['From', 'To', 'Call-ID', 'CSeq'] as const) {
    let value = headerValues(req, name)[0];
    if (value === undefined) continue;
    if (name === 'To' && status > 100 && toTag !== undefined && !/;\s*tag\s*=/i.test(value)) value = `${value};tag=${toTag}`;
    headers.push({ name, value });
  }
  for (const [name, value] of options.headers ?? []) headers.push({ name: canonicalName(name), value });
  const body = options.body === undefined ? Buffer.alloc(0) : typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  if (body.length > 0 && options.contentType !== undefined && !headers.some((h) => h.name === 'Content-Type')) {
    headers.push({ name: 'Content-Type', value: options.contentType });
  }
  return { kind: 'response', status, reason: options.reason ?? reasonPhrase(status), headers, body };
}
