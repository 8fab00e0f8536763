// REPORT requests and the rules for when responses and REPORTs are sent
// (RFC 4975 §7.1.2 – §7.2, RFC 4976 §7.1).
//
// Responses are hop-by-hop: a relay answers the previous hop itself and, when delivery
// further on fails, tells the original sender with a failure REPORT. Success REPORTs come
// only from the final recipient, once it holds the whole message. The two header fields
// that steer this are independent: Failure-Report governs responses and failure REPORTs,
// Success-Report governs success REPORTs.

import { getHeader, type MsrpHeader, type MsrpRequest } from './frame.ts';
import { formatByteRange } from './chunker.ts';
import { parseFailureReport, parseSuccessReport, type ByteRange, type FailureReport, type SuccessReport } from './headers.ts';
import { isValidStatusCode, reasonPhrase } from './status.ts';
import { newTransactionId, sanitizeComment } from './transaction.ts';

export type FailureReportValue = FailureReport;
export type SuccessReportValue = SuccessReport;

/**
 * RFC 4975 §7.1.1: Failure-Report is "yes", "no" or "partial", "yes" when absent.
 * Returns 'invalid' for any other value, which the caller answers with 400.
 */
export function failureReportOf(frame: Pick<MsrpRequest, 'headers'>): FailureReportValue | 'invalid' {
  const v = getHeader(frame, 'Failure-Report');
  if (v === undefined) return 'yes';
  const r = parseFailureReport(v.trim());
  return r.ok ? r.value : 'invalid';
}

/** RFC 4975 §7.1.1: Success-Report is "yes" or "no", "no" when absent. */
export function successReportOf(frame: Pick<MsrpRequest, 'headers'>): SuccessReportValue | 'invalid' {
  const v = getHeader(frame, 'Success-Report');
  if (v === undefined) return 'no';
  const r = parseSuccessReport(v.trim());
  return r.ok ? r.value : 'invalid';
}

/**
 * What happened to the request at this hop:
 *  - 'accepted': taken (a relay forwarded it, an endpoint stored the chunk), message not complete;
 *  - 'complete': accepted, and this endpoint now holds every byte of the message;
 *  - 'rejected': this hop refuses it and answers with an error status;
 *  - 'downstream-failed': this hop had accepted it, but delivery further on failed
 *    (error response from the next hop, 408 timeout, connection lost).
 */
export type Outcome = 'accepted' | 'complete' | 'rejected' | 'downstream-failed';

export interface ReportPolicyInput {
  readonly method: string;
  /** Parsed value; undefined means absent and takes the RFC 4975 default. */
  readonly failureReport?: FailureReportValue;
  readonly successReport?: SuccessReportValue;
  readonly outcome: Outcome;
}

export interface ReportDecision {
  readonly sendResponse: boolean;
  readonly sendFailureReport: boolean;
  readonly sendSuccessReport: boolean;
  /** The rules applied, for logs and tests. */
  readonly rules: readonly string[];
}

type MethodClass = 'SEND' | 'REPORT' | 'other';
const ANY = '*';

interface FailureRule {
  readonly method: MethodClass;
  readonly failureReport: FailureReportValue | typeof ANY;
  readonly outcomes: readonly Outcome[] | typeof ANY;
  readonly sendResponse: boolean;
  readonly sendFailureReport: boolean;
  readonly rule: string;
}

/** Responses and failure REPORTs. First matching row wins. */
export const FAILURE_RULES: readonly FailureRule[] = [
  { method: 'REPORT', failureReport: ANY, outcomes: ANY, sendResponse: false, sendFailureReport: false,
    rule: 'RFC 4975 §7.1.2: a REPORT is never answered, neither with a response nor with another REPORT' },
  { method: 'other', failureReport: ANY, outcomes: ANY, sendResponse: true, sendFailureReport: false,
    rule: 'RFC 4975 §7.2, RFC 4976 §5, RFC 7701 §7: non-SEND requests (AUTH, NICKNAME, extensions) always get a response; REPORTs only concern SEND' },
  { method: 'SEND', failureReport: 'no', outcomes: ANY, sendResponse: false, sendFailureReport: false,
    rule: 'RFC 4975 §7.1.1, §7.2: Failure-Report "no": no response and no failure REPORT, whatever happens' },
  { method: 'SEND', failureReport: 'yes', outcomes: ['accepted', 'complete'], sendResponse: true, sendFailureReport: false,
    rule: 'RFC 4975 §7.2: Failure-Report "yes" (the default): every SEND gets a response, 200 on success' },
  { method: 'SEND', failureReport: 'partial', outcomes: ['accepted', 'complete'], sendResponse: false, sendFailureReport: false,
    rule: 'RFC 4975 §7.1.1, §7.2: Failure-Report "partial": no 200 responses, only failures are reported' },
  { method: 'SEND', failureReport: ANY, outcomes: ['rejected'], sendResponse: true, sendFailureReport: false,
    rule: 'RFC 4975 §7.2: a refused SEND ("yes" or "partial") gets an error response to the previous hop; a relay there turns it into a failure REPORT (RFC 4976 §7.1)' },
  { method: 'SEND', failureReport: ANY, outcomes: ['downstream-failed'], sendResponse: false, sendFailureReport: true,
    rule: 'RFC 4975 §7.1.2, RFC 4976 §7.1: a hop that already answered upstream reports a later delivery failure ("yes" or "partial") with a failure REPORT to the sender' },
];

interface SuccessRule {
  readonly method: MethodClass | typeof ANY;
  readonly successReport: SuccessReportValue | typeof ANY;
  readonly outcomes: readonly Outcome[] | typeof ANY;
  readonly sendSuccessReport: boolean;
  readonly rule: string;
}

/** Success REPORTs, independent of Failure-Report. First matching row wins. */
export const SUCCESS_RULES: readonly SuccessRule[] = [
  { method: 'SEND', successReport: 'yes', outcomes: ['complete'], sendSuccessReport: true,
    rule: 'RFC 4975 §7.1.2: Success-Report "yes": the recipient sends a success REPORT once it has received the whole message' },
  { method: ANY, successReport: ANY, outcomes: ANY, sendSuccessReport: false,
    rule: 'RFC 4975 §7.1.2: no success REPORT otherwise (Success-Report "no" is the default; relays never send one, RFC 4976 §7.1)' },
];

function methodClass(method: string): MethodClass {
  return method === 'SEND' ? 'SEND' : method === 'REPORT' ? 'REPORT' : 'other';
}

function matches<T>(want: T | typeof ANY, got: T): boolean {
  return want === ANY || want === got;
}

function outcomeMatches(want: readonly Outcome[] | typeof ANY, got: Outcome): boolean {
  return want === ANY || want.includes(got);
}

/** Decides, from the tables above, what this hop sends for a request and its outcome. */
export function reportPolicy(input: ReportPolicyInput): ReportDecision {
  const method = methodClass(input.method);
  const failureReport = input.failureReport ?? 'yes';
  const successReport = input.successReport ?? 'no';
  const f = FAILURE_RULES.find(
    (r) => r.method === method && matches(r.failureReport, failureReport) && outcomeMatches(r.outcomes, input.outcome),
  );
  const s = SUCCESS_RULES.find(
    (r) => matches(r.method, method) && matches(r.successReport, successReport) && outcomeMatches(r.outcomes, input.outcome),
  );
  // Every (method, value, outcome) combination is covered; the tests enumerate them all.
  if (f === undefined || s === undefined) throw new Error(`reportPolicy: no rule for ${JSON.stringify(input)}`);
  return {
    sendResponse: f.sendResponse,
    sendFailureReport: f.sendFailureReport,
    sendSuccessReport: s.sendSuccessReport,
    rules: [f.rule, s.rule],
  };
}

/** RFC 4975 §9: Status = "Status:" SP namespace SP status-code [SP comment]; namespace "000" is MSRP. */
export function formatStatusHeader(status: number, comment?: string): string {
  const text = sanitizeComment(comment ?? reasonPhrase(status));
  return text === '' ? `000 ${status}` : `000 ${status} ${text}`;
}

export interface ReportOptions {
  readonly status: number;
  readonly comment?: string;
  /** The range reported on: the whole message for a success REPORT, the failed chunk otherwise. */
  readonly byteRange: ByteRange;
  /** This hop's URI; defaults to the first To-Path URI of the SEND (how we were addressed). */
  readonly localUri?: string;
  readonly transactionId?: string;
}

/**
 * A REPORT about `send` (RFC 4975 §7.1.2):
 *  - To-Path is the From-Path of the SEND exactly as received, NOT reversed: relays add
 *    themselves at the front of From-Path (RFC 4976 §7.1), so it already lists the way back,
 *    nearest hop first, original sender last;
 *  - From-Path is this hop only;
 *  - Message-ID of the SEND, Byte-Range of what is reported on, Status "000 code comment";
 *  - no body, and no Success-Report / Failure-Report: nobody answers a REPORT.
 * Returns null when the SEND has no Message-ID, which makes a REPORT impossible (the
 * caller answers such a SEND with 400 instead).
 */
export function buildReport(send: MsrpRequest, options: ReportOptions): MsrpRequest | null {
  const messageId = getHeader(send, 'Message-ID');
  const self = options.localUri ?? send.toPath[0];
  if (messageId === undefined || self === undefined || send.fromPath.length === 0) return null;
  if (!isValidStatusCode(options.status)) throw new RangeError(`buildReport: ${options.status} is not a status code`);
  const headers: MsrpHeader[] = [
    { name: 'Message-ID', value: messageId },
    { name: 'Byte-Range', value: formatByteRange(options.byteRange) },
    { name: 'Status', value: formatStatusHeader(options.status, options.comment) },
  ];
  return {
    kind: 'request',
    method: 'REPORT',
    transactionId: options.transactionId ?? newTransactionId(),
    toPath: [...send.fromPath],
    fromPath: [self],
    headers,
    body: [],
    continuation: '$',
  };
}
