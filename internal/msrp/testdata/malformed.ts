// The malformed-input corpus as data, for every layer that feeds bytes to the parser: the
// parser's own corpus test and the relay's bad-input test over real sockets
// (internal/relay/badinput.test.ts). Each case names the error code and MSRP status the
// parser must report and whether the stream is lost (fatal).
// This is the only copy of the table: internal/msrp/corpus.test.ts imports it too.
import type { MsrpParserOptions } from '../parser.ts';
import type { ParseErrorCode } from '../errors.ts';

export const TID = 'abcd1234';
const TO = 'To-Path: msrp://a.example.com:1/s;tcp\r\n';
const FROM = 'From-Path: msrp://b.example.com:2/t;tcp\r\n';
const END = `-------${TID}$\r\n`;
export const VALID = `MSRP zz99 SEND\r\n${TO}${FROM}Content-Type: text/plain\r\n\r\nnext\r\n-------zz99$\r\n`;

/** A request with the given start line suffix, extra header lines and optional body. */
function req(extra: string, body?: string, method = 'SEND'): string {
  return `MSRP ${TID} ${method}\r\n${TO}${FROM}${extra}` + (body === undefined ? END : `Content-Type: text/plain\r\n\r\n${body}\r\n${END}`);
}

function line(start: string): string {
  return `${start}\r\n${TO}${FROM}${END}`;
}

export interface MalformedCase {
  readonly name: string;
  readonly input: string | Buffer;
  readonly code: ParseErrorCode;
  readonly status?: number;
  readonly fatal: boolean;
  readonly options?: MsrpParserOptions;
  /** The stream ends without the frame's end-line: no recovery is possible. */
  readonly unterminated?: boolean;
  /** The error comes before the transaction id could be read. */
  readonly noTid?: boolean;
  /**
   * The start line and both paths were read before the error, so the error carries `head`:
   * the request's method, or 'response'. Absent: the error must carry no head.
   */
  readonly head?: string;
}

export const BEFORE_TID: readonly ParseErrorCode[] = ['bad-start-line', 'bad-transaction-id', 'control-char', 'bad-line-ending', 'header-too-large'];

const bin = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

export const MALFORMED_CASES: readonly MalformedCase[] = [
  // start line
  { name: 'no MSRP keyword', input: line(`HELLO ${TID} SEND`), code: 'bad-start-line', fatal: true },
  { name: 'lower-case msrp', input: line(`msrp ${TID} SEND`), code: 'bad-start-line', fatal: true },
  { name: 'leading space', input: line(` MSRP ${TID} SEND`), code: 'bad-start-line', fatal: true },
  { name: 'no space after MSRP', input: line(`MSRP${TID} SEND`), code: 'bad-start-line', fatal: true },
  { name: 'empty line before the start line', input: `\r\n${req('')}`, code: 'bad-start-line', fatal: true },
  { name: 'missing transaction id', input: line('MSRP  SEND'), code: 'bad-start-line', fatal: true },
  { name: 'two spaces before the transaction id', input: line(`MSRP  ${TID} SEND`), code: 'bad-start-line', fatal: true },
  { name: 'missing method', input: line(`MSRP ${TID}`), code: 'bad-start-line', fatal: false },
  { name: 'missing method after a space', input: line(`MSRP ${TID} `), code: 'bad-start-line', fatal: false },
  { name: 'two spaces before the method', input: line(`MSRP ${TID}  SEND`), code: 'bad-start-line', fatal: false },
  { name: 'space after the method', input: line(`MSRP ${TID} SEND `), code: 'bad-start-line', fatal: false },
  { name: 'lower-case method', input: line(`MSRP ${TID} send`), code: 'bad-method', fatal: false },
  { name: 'method with a digit', input: line(`MSRP ${TID} SEND2`), code: 'bad-method', fatal: false },
  { name: 'two-digit status', input: line(`MSRP ${TID} 20 OK`), code: 'bad-status-code', fatal: false },
  { name: 'four-digit status', input: line(`MSRP ${TID} 2000 OK`), code: 'bad-status-code', fatal: false },
  { name: 'status with a letter', input: line(`MSRP ${TID} 20a OK`), code: 'bad-status-code', fatal: false },
  { name: 'status glued to its comment', input: line(`MSRP ${TID} 200OK`), code: 'bad-status-code', fatal: false },
  { name: 'NUL in the start line', input: line('MSRP abcd\x001234 SEND'), code: 'control-char', fatal: true },
  { name: 'DEL in the response comment', input: line(`MSRP ${TID} 200 O\x7fK`), code: 'control-char', fatal: false },
  { name: 'invalid UTF-8 in the response comment', input: bin(`MSRP ${TID} 200 `, [0xff, 0xfe], `\r\n${TO}${FROM}${END}`), code: 'invalid-utf8', fatal: false },
  { name: 'LF-only start line', input: `MSRP ${TID} SEND\n${TO}${FROM}${END}`, code: 'bad-line-ending', fatal: true },
  { name: 'CR without LF in the start line', input: line(`MSRP ${TID} SE\rND`), code: 'bad-line-ending', fatal: false },
  // transaction id
  { name: 'transaction id too short', input: line('MSRP abc SEND'), code: 'bad-transaction-id', fatal: true },
  { name: 'transaction id too long (33)', input: line(`MSRP a${'b'.repeat(32)} SEND`), code: 'bad-transaction-id', fatal: true },
  { name: 'transaction id with "_"', input: line('MSRP ab_cd SEND'), code: 'bad-transaction-id', fatal: true },
  { name: 'transaction id starting with "-"', input: line('MSRP -abcd SEND'), code: 'bad-transaction-id', fatal: true },
  { name: 'transaction id with "/"', input: line('MSRP abc/d SEND'), code: 'bad-transaction-id', fatal: true },
  // header lines
  { name: 'header line without colon', input: req('Foo bar\r\n'), code: 'bad-header-line', fatal: false, head: 'SEND' },
  { name: 'header name with a space', input: req('Foo Bar: x\r\n'), code: 'bad-header-name', fatal: false, head: 'SEND' },
  { name: 'space before the colon', input: req('Foo : x\r\n'), code: 'bad-header-name', fatal: false, head: 'SEND' },
  { name: 'header name starting with a digit', input: req('1Foo: x\r\n'), code: 'bad-header-name', fatal: false, head: 'SEND' },
  { name: 'empty header name', input: req(': x\r\n'), code: 'bad-header-name', fatal: false, head: 'SEND' },
  { name: 'header line starting with "-"', input: req('-X: y\r\n'), code: 'bad-header-name', fatal: false, head: 'SEND' },
  { name: 'NUL in a header value', input: req('X: a\x00b\r\n'), code: 'control-char', fatal: false, head: 'SEND' },
  { name: 'ESC in a header value', input: req('X: a\x1bb\r\n'), code: 'control-char', fatal: false, head: 'SEND' },
  { name: 'DEL in a header name', input: req('Fo\x7fo: x\r\n'), code: 'control-char', fatal: false, head: 'SEND' },
  { name: 'truncated UTF-8 sequence in a value', input: bin(`MSRP ${TID} SEND\r\n${TO}${FROM}X: `, [0xc3, 0x28], `\r\n${END}`), code: 'invalid-utf8', fatal: false, head: 'SEND' },
  { name: 'overlong UTF-8 in a value', input: bin(`MSRP ${TID} SEND\r\n${TO}${FROM}X: `, [0xc0, 0xaf], `\r\n${END}`), code: 'invalid-utf8', fatal: false, head: 'SEND' },
  { name: 'UTF-8 encoded surrogate in a value', input: bin(`MSRP ${TID} SEND\r\n${TO}${FROM}X: `, [0xed, 0xa0, 0x80], `\r\n${END}`), code: 'invalid-utf8', fatal: false, head: 'SEND' },
  { name: 'five-byte legacy UTF-8 in a value', input: bin(`MSRP ${TID} SEND\r\n${TO}${FROM}X: `, [0xf8, 0x88, 0x80, 0x80, 0x80], `\r\n${END}`), code: 'invalid-utf8', fatal: false, head: 'SEND' },
  { name: 'CR without LF in a header value', input: req('X: a\rb\r\n'), code: 'bad-line-ending', fatal: false, head: 'SEND' },
  { name: 'LF-only header line', input: req('X: a\nY: b\r\n'), code: 'bad-line-ending', fatal: false, head: 'SEND' },
  // limits
  { name: 'header section too large', input: req(`X: ${'v'.repeat(200)}\r\n`.repeat(100)), code: 'header-too-large', status: 413, fatal: false, head: 'SEND' },
  { name: 'header line that never ends', input: `MSRP ${TID} SEND\r\n${TO}X: ${'v'.repeat(20000)}`, code: 'header-too-large', status: 413, fatal: false, unterminated: true },
  { name: 'start line that never ends', input: `MSRP ${'A'.repeat(20000)}`, code: 'header-too-large', status: 413, fatal: true },
  { name: 'header section over a small maxHeaderBytes', input: req('X: 0123456789012345678901234567890123456789\r\n'), options: { maxHeaderBytes: 130 }, code: 'header-too-large', status: 413, fatal: false, head: 'SEND' },
  { name: 'non-SEND request with an 11 KB body', input: req('', 'r'.repeat(11 * 1024), 'REPORT'), code: 'body-too-large', status: 413, fatal: false, head: 'REPORT' },
  { name: 'AUTH body over a custom maxNonSendBody', input: req('', 'r'.repeat(101), 'AUTH'), options: { maxNonSendBody: 100 }, code: 'body-too-large', status: 413, fatal: false, head: 'AUTH' },
  // paths
  { name: 'duplicate To-Path', input: req(TO), code: 'duplicate-to-path', fatal: false, head: 'SEND' },
  { name: 'duplicate From-Path', input: req(FROM), code: 'duplicate-from-path', fatal: false, head: 'SEND' },
  { name: 'duplicate To-Path in another case', input: req('to-path: msrp://c.example.com:3/u;tcp\r\n'), code: 'duplicate-to-path', fatal: false, head: 'SEND' },
  { name: 'missing To-Path', input: `MSRP ${TID} SEND\r\n${FROM}${END}`, code: 'missing-to-path', fatal: false },
  { name: 'missing From-Path', input: `MSRP ${TID} SEND\r\n${TO}${END}`, code: 'missing-from-path', fatal: false },
  { name: 'missing both paths', input: `MSRP ${TID} SEND\r\nX: y\r\n${END}`, code: 'missing-to-path', fatal: false },
  { name: 'missing To-Path before a body', input: `MSRP ${TID} SEND\r\n${FROM}Content-Type: text/plain\r\n\r\nhi\r\n${END}`, code: 'missing-to-path', fatal: false },
  { name: 'empty To-Path', input: `MSRP ${TID} SEND\r\nTo-Path: \r\n${FROM}${END}`, code: 'empty-to-path', fatal: false },
  { name: 'blank From-Path', input: `MSRP ${TID} SEND\r\n${TO}From-Path:   \r\n${END}`, code: 'empty-from-path', fatal: false },
  { name: 'To-Path with an http URI', input: `MSRP ${TID} SEND\r\nTo-Path: http://a.example.com/\r\n${FROM}${END}`, code: 'bad-path-uri', fatal: false },
  // Byte-Range and numbers
  { name: 'Byte-Range with letters', input: req('Byte-Range: a-b/c\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'Byte-Range start after end', input: req('Byte-Range: 5-3/10\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'Byte-Range start 0', input: req('Byte-Range: 0-5/5\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'negative Byte-Range', input: req('Byte-Range: -1-5/5\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'Byte-Range end beyond total', input: req('Byte-Range: 1-10/5\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'Byte-Range without total', input: req('Byte-Range: 1-5\r\n'), code: 'bad-byte-range', fatal: false, head: 'SEND' },
  { name: 'Byte-Range number overflow', input: req('Byte-Range: 1-99999999999999999999/*\r\n'), code: 'number-overflow', fatal: false, head: 'SEND' },
  { name: '$ chunk longer than its Byte-Range', input: req('Byte-Range: 1-5/5\r\n', '0123456789'), code: 'byte-range-mismatch', fatal: false, head: 'SEND' },
  { name: '+ chunk longer than its Byte-Range', input: req('Byte-Range: 1-3/*\r\n', 'abcd').replace(END, `-------${TID}+\r\n`), code: 'byte-range-mismatch', fatal: false, head: 'SEND' },
  { name: '$ chunk shorter than its Byte-Range in exact mode', input: req('Byte-Range: 1-10/10\r\n', '01234'), options: { byteRangeCheck: 'exact' }, code: 'byte-range-mismatch', fatal: false, head: 'SEND' },
  { name: 'Expires that overflows', input: req('Expires: 99999999999999999999\r\n'), code: 'number-overflow', fatal: false, head: 'SEND' },
  { name: 'Max-Expires of 2^53', input: req('Max-Expires: 9007199254740992\r\n'), code: 'number-overflow', fatal: false, head: 'SEND' },
  { name: 'Expires that is a word', input: req('Expires: soon\r\n'), code: 'bad-expires', fatal: false, head: 'SEND' },
  { name: 'negative Min-Expires', input: req('Min-Expires: -5\r\n'), code: 'bad-expires', fatal: false, head: 'SEND' },
  { name: 'Status with a four-digit code', input: req('Status: 000 2000 OK\r\n', undefined, 'REPORT'), code: 'bad-status-header', fatal: false, head: 'REPORT' },
  { name: 'Status without namespace', input: req('Status: 200 OK\r\n', undefined, 'REPORT'), code: 'bad-status-header', fatal: false, head: 'REPORT' },
  // framing
  { name: 'stream ends inside the body', input: `MSRP ${TID} SEND\r\n${TO}${FROM}Content-Type: text/plain\r\n\r\nhello`, code: 'missing-end-line', fatal: true, unterminated: true, head: 'SEND' },
  { name: 'stream ends inside the headers', input: `MSRP ${TID} SEND\r\n${TO}`, code: 'missing-end-line', fatal: true, unterminated: true },
  { name: 'stream ends inside the start line', input: `MSRP ${TID} SE`, code: 'missing-end-line', fatal: true, unterminated: true, noTid: true },
  { name: 'next frame starts where the end-line should be', input: `MSRP ${TID} SEND\r\n${TO}${FROM}Content-Type: text/plain\r\n\r\nhello\r\n${VALID}`, code: 'missing-end-line', fatal: true, unterminated: true, head: 'SEND' },
  { name: 'end-line with the wrong transaction id', input: `MSRP ${TID} SEND\r\n${TO}${FROM}-------zzzz9999$\r\n`, code: 'bad-end-line', fatal: true, head: 'SEND' },
  { name: 'end-line with a bad flag', input: `MSRP ${TID} SEND\r\n${TO}${FROM}-------${TID}!\r\n`, code: 'bad-end-line', fatal: true, head: 'SEND' },
  { name: 'end-line without flag', input: `MSRP ${TID} SEND\r\n${TO}${FROM}-------${TID}\r\n`, code: 'bad-end-line', fatal: true, head: 'SEND' },
  { name: 'response with a body', input: `MSRP ${TID} 200 OK\r\n${TO}${FROM}\r\nbody\r\n${END}`, code: 'response-with-body', fatal: false, head: 'response' },
];
