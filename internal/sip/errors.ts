// The catalogue of SIP parse and validation errors (RFC 3261 §7, §8.2, §18.3, §20, §25).
//
// Errors are values: the parser and the framer never throw on bad input. Each code is
// stable (tests, logs and metrics key on it) and carries the SIP status a UAS answers a
// request with, plus the reason phrase to put on the status line: RFC 3261 §8.2 and
// RFC 4475's invalid messages both ask for a response that says what is wrong ("Missing Call-ID").
// Responses are never answered (§8.1.3.3: a malformed response is discarded).

import type { SipMessage } from './message.ts';

export type SipErrorCode =
  | 'bad-start-line'
  | 'bad-version'
  | 'bad-request-uri'
  | 'bad-status-code'
  | 'bad-line-ending'
  | 'control-char'
  | 'invalid-utf8'
  | 'bad-header-line'
  | 'bad-header-name'
  | 'header-too-large'
  | 'body-too-large'
  | 'bad-content-length'
  | 'missing-content-length'
  | 'body-length-mismatch'
  | 'missing-header'
  | 'duplicate-header'
  | 'bad-header-value'
  | 'cseq-method-mismatch'
  | 'bad-sdp'
  | 'bad-body';

/** A parse error as a value. */
export interface SipParseError {
  readonly code: SipErrorCode;
  /** The status a UAS answers a request with (400, 413, 505...). */
  readonly status: number;
  /** The reason phrase for that response, naming the culprit ("Missing Call-ID"). */
  readonly reason: string;
  readonly message: string;
  /** The header at fault, canonical name, when there is one. */
  readonly header?: string;
  /** What was read before the error, so a UAS can build its response (Via, From, To, Call-ID, CSeq). */
  readonly partial?: SipMessage;
  /** True when a byte stream lost its framing: the connection must be closed. */
  readonly fatal: boolean;
}

interface CatalogueEntry {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

export const SIP_ERRORS: { readonly [C in SipErrorCode]: CatalogueEntry } = {
  'bad-start-line': { status: 400, reason: 'Bad Request-Line', message: 'start line is neither Request-Line nor Status-Line (RFC 3261 §7.1, §7.2)' },
  'bad-version': { status: 505, reason: 'Version Not Supported', message: 'SIP-Version is not SIP/2.0 (RFC 3261 §21.5.7)' },
  'bad-request-uri': { status: 400, reason: 'Bad Request-URI', message: 'Request-URI is not an absolute URI (RFC 3261 §25.1)' },
  'bad-status-code': { status: 400, reason: 'Bad Status-Code', message: 'Status-Code is not 3DIGIT in 100-699' },
  'bad-line-ending': { status: 400, reason: 'Bad Line Ending', message: 'line not terminated by CRLF (bare CR or LF)' },
  'control-char': { status: 400, reason: 'Control Character', message: 'control character in start line or header' },
  'invalid-utf8': { status: 400, reason: 'Invalid UTF-8', message: 'start line or header is not valid UTF-8' },
  'bad-header-line': { status: 400, reason: 'Bad Header', message: 'header line has no ":"' },
  'bad-header-name': { status: 400, reason: 'Bad Header Name', message: 'header name is not a token' },
  'header-too-large': { status: 413, reason: 'Message Too Large', message: 'header section exceeds the configured limit' },
  'body-too-large': { status: 413, reason: 'Request Entity Too Large', message: 'body exceeds the configured limit' },
  'bad-content-length': { status: 400, reason: 'Bad Content-Length', message: 'Content-Length is not 1*DIGIT' },
  'missing-content-length': { status: 400, reason: 'Missing Content-Length', message: 'a stream transport requires Content-Length (RFC 3261 §18.3)' },
  'body-length-mismatch': { status: 400, reason: 'Bad Content-Length', message: 'Content-Length exceeds the bytes in the datagram (RFC 3261 §18.3)' },
  'missing-header': { status: 400, reason: 'Missing Header', message: 'a mandatory header is absent (RFC 3261 §8.1.1)' },
  'duplicate-header': { status: 400, reason: 'Duplicate Header', message: 'a single-valued header appears more than once' },
  'bad-header-value': { status: 400, reason: 'Bad Header', message: 'header value does not follow its grammar' },
  'cseq-method-mismatch': { status: 400, reason: 'CSeq Method Mismatch', message: 'CSeq method differs from the request method (RFC 3261 §8.1.1.5)' },
  'bad-sdp': { status: 400, reason: 'Bad SDP', message: 'session description does not follow RFC 8866' },
  'bad-body': { status: 400, reason: 'Bad Body', message: 'message body does not follow its media type (RFC 2046)' },
};

export interface SipErrorExtra {
  header?: string;
  /** Overrides the catalogue reason phrase, e.g. "Missing Call-ID". */
  reason?: string;
  partial?: SipMessage;
  fatal?: boolean;
}

/** Builds an error value from the catalogue; `detail` is appended to the message after a colon. */
export function sipError(code: SipErrorCode, detail?: string, extra: SipErrorExtra = {}): SipParseError {
  const entry = SIP_ERRORS[code];
  const error: { -readonly [K in keyof SipParseError]: SipParseError[K] } = {
    code,
    status: entry.status,
    reason: extra.reason ?? (extra.header !== undefined && entry.reason === 'Bad Header' ? `Bad ${extra.header}` : entry.reason),
    message: detail === undefined ? entry.message : `${entry.message}: ${detail}`,
    fatal: extra.fatal ?? false,
  };
  if (extra.header !== undefined) error.header = extra.header;
  if (extra.partial !== undefined) error.partial = extra.partial;
  return error;
}

export type SipResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SipParseError };
