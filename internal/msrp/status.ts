// The one catalogue of MSRP status codes (RFC 4975 §7.3, §10.3; RFC 4976; RFC 7701).
//
// Reason phrases are the descriptions of the IANA "MSRP Status Codes" registry
// (RFC 4975 §10.3), except 200, for which every example in RFC 4975 (§4, §7.1.2)
// writes "OK". RFC 4975 §9 makes the comment free `utf8text`: receivers act on the
// code alone, so the phrase is for people reading traces.

export const MsrpStatus = {
  /** RFC 4975 §7.3: the transaction (or, in a REPORT, the whole message or range) succeeded. */
  OK: 200,
  /** RFC 4975 §7.3: the request was unintelligible (bad syntax, missing mandatory header). */
  BAD_REQUEST: 400,
  /** RFC 4976 §5: AUTH without (valid) credentials; the response carries WWW-Authenticate. */
  UNAUTHORIZED: 401,
  /** RFC 4975 §7.3: the action is not allowed (RFC 4976: also a relay refusing to authorise or forward). */
  FORBIDDEN: 403,
  /** RFC 7701 §6.2: the recipient of a private message is not a participant of the room. */
  NOT_FOUND: 404,
  /**
   * RFC 4975 §7.3: a downstream transaction did not complete in time. Never sent as a
   * response on the wire; it is produced locally and carried in a failure REPORT (§7.1.2).
   */
  REQUEST_TIMEOUT: 408,
  /** RFC 4975 §7.3: the receiver wants the sender to stop sending this message (too large, cancelled). */
  STOP_SENDING: 413,
  /** RFC 4975 §7.3: a media type in the request (Content-Type, CPIM content) is not understood. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** RFC 4975 §7.3: a parameter is out of bounds (RFC 4976 §5: Expires outside Min-/Max-Expires). */
  PARAMETER_OUT_OF_BOUNDS: 423,
  /** RFC 7701 §7: the nickname in a NICKNAME request is malformed. */
  MALFORMED_NICKNAME: 424,
  /** RFC 7701 §7: the nickname is reserved or already used by another participant. */
  NICKNAME_UNAVAILABLE: 425,
  /** RFC 7701 §6.2: the focus does not support private messages. */
  PRIVATE_MESSAGES_NOT_SUPPORTED: 428,
  /** RFC 4975 §7.3: the session in To-Path does not exist (also the router's unknown-session answer). */
  SESSION_DOES_NOT_EXIST: 481,
  /** RFC 4975 §7.3: the request method is not understood. */
  METHOD_NOT_UNDERSTOOD: 501,
  /** RFC 4975 §7.3, §5.4: the session is already bound to another connection. */
  SESSION_ALREADY_IN_USE: 506,
} as const;

export type MsrpStatusName = keyof typeof MsrpStatus;
export type MsrpStatusCode = (typeof MsrpStatus)[MsrpStatusName];

const REASON_PHRASES: Readonly<Record<MsrpStatusCode, string>> = {
  200: 'OK',
  400: 'Unintelligible',
  401: 'Unauthorized',
  403: 'Action-not-allowed',
  404: "Failure to resolve recipient's URI",
  408: 'Transaction-did-not-complete-in-allotted-time',
  413: 'Stop-sending-message',
  415: 'MIME-not-understood',
  423: 'Parameter-out-of-bounds',
  424: 'Malformed nickname',
  425: 'Nickname reserved or already in use',
  428: 'Private messages not supported',
  481: 'Session-does-not-exist',
  501: 'Request-method-not-understood',
  506: 'Session-already-in-use',
};

/** True when `code` is one of the catalogued MSRP status codes. */
export function isMsrpStatusCode(code: number): code is MsrpStatusCode {
  return Object.hasOwn(REASON_PHRASES, code);
}

/**
 * The reason phrase for a status code. Uncatalogued codes get a generic phrase by class
 * (RFC 4975 §7.3: an unknown code is treated like the x00 code of its class).
 */
export function reasonPhrase(code: number): string {
  if (isMsrpStatusCode(code)) return REASON_PHRASES[code];
  if (code >= 200 && code < 300) return 'OK';
  return 'Failure';
}

/** RFC 4975 §7.3: 2xx codes are success, every other class is a failure. */
export function isSuccess(code: number): boolean {
  return code >= 200 && code < 300;
}

/** RFC 4975 §9: status-code = 3DIGIT. */
export function isValidStatusCode(code: number): boolean {
  return Number.isInteger(code) && code >= 100 && code <= 999;
}
