// The CPIM body of Alice's SEND in RFC 7701 §9.3 (the §9.4/§9.5 bodies have the same form),
// used by the CPIM parser's tests (internal/msrp/cpim.test.ts) and the switch's RFC 7701
// flows (internal/chat/switch/rfc7701.test.ts).
//
// As published, the body puts the MIME Content-Type right under DateTime with no blank line
// between the CPIM message headers and the encapsulated MIME headers, which RFC 3862 §3.1
// requires. `rfc7701BodyAsPublished` keeps that defect; `rfc7701BodyFixed` adds the
// missing blank line.

const crlf = (lines: string[]): string => lines.join('\r\n');

export const rfc7701BodyAsPublished = crlf([
  'From: Alice <sip:alice@example.com>',
  'To: <sip:conference@example.com>',
  'DateTime: 2009-03-02T15:02:31-03:00',
  'Content-Type: text/plain',
  '',
  'Hello guys, how are you today?',
]);

export const rfc7701BodyFixed = crlf([
  'From: Alice <sip:alice@example.com>',
  'To: <sip:conference@example.com>',
  'DateTime: 2009-03-02T15:02:31-03:00',
  '', // Fixed: the blank line RFC 3862 §3.1 requires before the MIME headers.
  'Content-Type: text/plain',
  '',
  'Hello guys, how are you today?',
]);
