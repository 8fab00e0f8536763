// The requests of a user agent client in a dialog it starts (RFC 3261 §8.1.1, §12.2.1.1), shared
// by the two UACs of this project: `msrp chat` (client/sip-uac.ts, UDP/TCP/WebSocket with
// retransmission) and the browser chat page (web/page/sip-socket.ts, WebSocket). Pure: the
// callers own sockets and transactions; here are the request, the Digest retry (RFC 3261 §22.2,
// one answer per challenge) and what a 2xx teaches the dialog (§12.1.2).
import { answerChallenge, chooseChallenge } from '../auth/digest-client.ts';
import { toTag } from './fields.ts';
import { headerValue, headerValues, request, type SipRequest, type SipResponse } from './message.ts';

export interface UacDialog {
  readonly callId: string;
  readonly fromTag: string;
  toTag: string | undefined;
  readonly uri: string;
  readonly from: string;
  seq: number;
  /** The focus's Contact: the Request-URI of in-dialog requests. */
  target: string | undefined;
}

export interface UacSendOptions {
  readonly headers?: readonly [string, string][];
  readonly body?: string;
  readonly contentType?: string;
  /** Sent to the dialog's remote target (BYE, re-INVITE) instead of the room URI. */
  readonly inDialog?: boolean;
}

export interface UacCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * `method` in dialog `d`: CSeq moves on except for ACK (§17.1.1.3, the ACK of a 2xx repeats the
 * INVITE's number); an in-dialog request or an ACK goes to the remote target. `via` is the whole
 * Via value (transport, sent-by, branch and any rport) and `contact` our Contact.
 */
export function uacRequest(d: UacDialog, method: string, o: UacSendOptions, via: string, contact: string): { req: SipRequest; uri: string } {
  const seq = method === 'ACK' ? d.seq : ++d.seq;
  const uri = o.inDialog === true || method === 'ACK' ? (d.target ?? d.uri) : d.uri;
  const headers: [string, string][] = [
    ['Via', via],
    ['Max-Forwards', '70'],
    ['From', `<${d.from}>;tag=${d.fromTag}`],
    ['To', `<${d.uri}>${d.toTag === undefined ? '' : `;tag=${d.toTag}`}`],
    ['Call-ID', d.callId],
    ['CSeq', `${seq} ${method}`],
    ['Contact', contact],
    ...(o.headers ?? []),
  ];
  if (o.body !== undefined) headers.push(['Content-Type', o.contentType ?? 'application/sdp']);
  return { req: request({ method, uri, headers, body: o.body ?? '' }), uri };
}

/**
 * The options to send `method` again with when `res` is a 401/407 challenge (RFC 3261 §22.2) to a
 * request that carried no answer yet and credentials are at hand; undefined when there is
 * nothing to retry (no credentials, an answer already refused, no challenge we can answer).
 */
export function digestRetry(res: SipResponse, method: string, uri: string, o: UacSendOptions, credentials: UacCredentials | undefined): UacSendOptions | undefined {
  if ((res.status !== 401 && res.status !== 407) || credentials === undefined) return undefined;
  if ((o.headers ?? []).some(([n]) => /^(proxy-)?authorization$/i.test(n))) return undefined;
  const challenge = chooseChallenge(headerValues(res, res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'));
  if (challenge === undefined) return undefined;
  const { authorization } = answerChallenge({ challenge, ...credentials, uri, method });
  return { ...o, headers: [...(o.headers ?? []), [res.status === 401 ? 'Authorization' : 'Proxy-Authorization', authorization]] };
}

/** RFC 3261 §12.1.2: the first 2xx gives the dialog its remote tag and its remote target (Contact). */
export function learnDialog(d: UacDialog, res: SipResponse): void {
  if (res.status < 200 || res.status >= 300 || d.toTag !== undefined) return;
  d.toTag = toTag(res);
  d.target = headerValue(res, 'Contact')?.replace(/^[^<]*<([^>]*)>.*$/, '$1');
}
