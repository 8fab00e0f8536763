// The catalogue of MSRP wire-level parse errors (RFC 4975 §7.1 framing, §9 syntax).
//
// Errors are values: the parser never throws on bad input, it hands one of these to
// `onError`. Each code is stable (tests, logs and metrics key on it) and carries the
// MSRP status a receiver should answer with (RFC 4975 §10: 400 "unintelligible",
// 413 "stop sending"). Whether an error is fatal depends on where it happens (a bad
// transaction id loses the framing, a bad header inside a well-framed request does
// not), so `fatal` is decided by the parser, not by the catalogue.

export type ParseErrorCode =
  | 'bad-start-line'
  | 'bad-transaction-id'
  | 'bad-method'
  | 'bad-status-code'
  | 'bad-line-ending'
  | 'control-char'
  | 'invalid-utf8'
  | 'header-too-large'
  | 'bad-header-line'
  | 'bad-header-name'
  | 'duplicate-to-path'
  | 'duplicate-from-path'
  | 'missing-to-path'
  | 'missing-from-path'
  | 'empty-to-path'
  | 'empty-from-path'
  | 'bad-path-uri'
  | 'bad-byte-range'
  | 'number-overflow'
  | 'bad-expires'
  | 'bad-status-header'
  | 'bad-report-value'
  | 'bad-message-id'
  | 'bad-content-type'
  | 'byte-range-mismatch'
  | 'body-too-large'
  | 'response-with-body'
  | 'bad-end-line'
  | 'missing-end-line';

/**
 * What the parser had read of the offending frame's head: its start line and both paths.
 * Enough to address a hop-by-hop response (RFC 4975 §7.2: To-Path = the first From-Path URI,
 * From-Path = the first To-Path URI).
 */
export interface ParseErrorHead {
  readonly kind: 'request' | 'response';
  /** The request method; absent for a response. */
  readonly method?: string;
  readonly toPath: readonly string[];
  readonly fromPath: readonly string[];
}

/** A parse error as a value. `status` is the MSRP status code to answer with (when the frame is a request). */
export interface MsrpParseError {
  readonly code: ParseErrorCode;
  readonly status: number;
  readonly message: string;
  /** Transaction id of the offending frame when it was read before the error, so the relay can answer it. */
  readonly transactionId?: string;
  /**
   * The frame's start line and paths, present only when the start line and both To-Path and
   * From-Path were parsed before the error (a bad Byte-Range, a body over a limit, a bad
   * header after the paths...). Never present for start-line errors.
   */
  readonly head?: ParseErrorHead;
  /** True when the byte stream cannot be re-synchronised: the connection must be closed. */
  readonly fatal: boolean;
}

interface CatalogueEntry {
  readonly status: 400 | 413;
  readonly message: string;
}

/** Every code with its status and a human summary; the parser appends detail after a colon. */
export const PARSE_ERRORS: { readonly [C in ParseErrorCode]: CatalogueEntry } = {
  'bad-start-line': { status: 400, message: 'start line is not "MSRP" SP transact-id SP (method / status-code [SP comment])' },
  'bad-transaction-id': { status: 400, message: 'transaction id is not ALPHANUM 3*31ident-char' },
  'bad-method': { status: 400, message: 'method is not 1*UPALPHA' },
  'bad-status-code': { status: 400, message: 'status code is not 3DIGIT' },
  'bad-line-ending': { status: 400, message: 'line not terminated by CRLF (bare CR or LF)' },
  'control-char': { status: 400, message: 'control character in start line or header' },
  'invalid-utf8': { status: 400, message: 'start line or header is not valid UTF-8' },
  'header-too-large': { status: 413, message: 'header section exceeds the configured limit' },
  'bad-header-line': { status: 400, message: 'header line has no ":"' },
  'bad-header-name': { status: 400, message: 'header name is not ALPHA *token' },
  'duplicate-to-path': { status: 400, message: 'more than one To-Path header' },
  'duplicate-from-path': { status: 400, message: 'more than one From-Path header' },
  'missing-to-path': { status: 400, message: 'no To-Path header' },
  'missing-from-path': { status: 400, message: 'no From-Path header' },
  'empty-to-path': { status: 400, message: 'To-Path has no URI' },
  'empty-from-path': { status: 400, message: 'From-Path has no URI' },
  'bad-path-uri': { status: 400, message: 'path entry is not an msrp: or msrps: URI' },
  'bad-byte-range': { status: 400, message: 'Byte-Range is not range-start "-" range-end "/" total' },
  'number-overflow': { status: 400, message: 'number exceeds Number.MAX_SAFE_INTEGER' },
  'bad-expires': { status: 400, message: 'Expires, Min-Expires or Max-Expires is not 1*DIGIT' },
  'bad-status-header': { status: 400, message: 'Status is not namespace SP status-code [SP comment]' },
  'bad-report-value': { status: 400, message: 'Success-Report/Failure-Report value not allowed' },
  'bad-message-id': { status: 400, message: 'Message-ID is not an ident' },
  'bad-content-type': { status: 400, message: 'Content-Type is not type "/" subtype *(";" gen-param)' },
  'byte-range-mismatch': { status: 400, message: 'body length disagrees with Byte-Range' },
  'body-too-large': { status: 413, message: 'body exceeds the configured limit' },
  'response-with-body': { status: 400, message: 'a response cannot carry a body' },
  'bad-end-line': { status: 400, message: 'end-line is not "-------" transact-id continuation-flag CRLF' },
  'missing-end-line': { status: 400, message: 'stream ended before the end-line' },
};

/** Builds an error value from the catalogue. */
export function parseError(
  code: ParseErrorCode,
  detail?: string,
  transactionId?: string,
  fatal = false,
): MsrpParseError {
  const entry = PARSE_ERRORS[code];
  const message = detail === undefined ? entry.message : `${entry.message}: ${detail}`;
  return transactionId === undefined
    ? { code, status: entry.status, message, fatal }
    : { code, status: entry.status, message, transactionId, fatal };
}
