// RFC 4975 example messages as wire bytes (CRLF line endings written out).
//
// Transcribed from the RFC text with its 3-space (or 4/6/7-space) indentation removed.
// The RFC's Byte-Range values in §4, §11.1, §11.4 (second chunk) and §11.5 count the
// CRLF before the end-line as body (e.g. "Hey Bob, are you there?" is 23 bytes but
// Byte-Range says 1-25/25). The vectors keep the RFC's numbers; the parser's default
// (non-strict) Byte-Range check accepts a body shorter than announced.

/** §4 Figure 2: SEND. */
export const fig2Send =
  'MSRP a786hjs2 SEND\r\n' +
  'To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n' +
  'From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n' +
  'Message-ID: 87652491\r\n' +
  'Byte-Range: 1-25/25\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'Hey Bob, are you there?\r\n' +
  '-------a786hjs2$\r\n';

/** §4 Figure 2: the 200 response. */
export const fig2Response =
  'MSRP a786hjs2 200 OK\r\n' +
  'To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n' +
  'From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n' +
  '-------a786hjs2$\r\n';

/**
 * §5.1 Figure 3: a message "abcdEFGH" in two chunks, exactly as printed. The RFC omits
 * To-Path and From-Path from this snippet, so as wire bytes it is invalid ('missing-to-path').
 */
export const fig3ChunksAsPrinted =
  'MSRP dkei38sd SEND\r\n' +
  'Message-ID: 4564dpWd\r\n' +
  'Byte-Range: 1-*/8\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'abcd\r\n' +
  '-------dkei38sd+\r\n' +
  'MSRP dkei38ia SEND\r\n' +
  'Message-ID: 4564dpWd\r\n' +
  'Byte-Range: 5-8/8\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'EFGH\r\n' +
  '-------dkei38ia$\r\n';

/** §5.1 Figure 3 completed with the paths of §11.1 (our fix, so it parses). */
export const fig3ChunksWithPaths =
  'MSRP dkei38sd SEND\r\n' +
  'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'Message-ID: 4564dpWd\r\n' +
  'Byte-Range: 1-*/8\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'abcd\r\n' +
  '-------dkei38sd+\r\n' +
  'MSRP dkei38ia SEND\r\n' +
  'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'Message-ID: 4564dpWd\r\n' +
  'Byte-Range: 5-8/8\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'EFGH\r\n' +
  '-------dkei38ia$\r\n';

/** §11.1 step 4: Alice -> Bob SEND. */
export const basicSessionAliceSend =
  'MSRP d93kswow SEND\r\n' +
  'To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 1-16/16\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  "Hi, I'm Alice!\r\n" +
  '-------d93kswow$\r\n';

/** §11.1 step 5: Bob -> Alice 200. */
export const basicSessionBobOk =
  'MSRP d93kswow 200 OK\r\n' +
  'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  '-------d93kswow$\r\n';

/** §11.1 step 6: Bob -> Alice SEND (two spaces after "Alice!" as printed). */
export const basicSessionBobSend =
  'MSRP dkei38sd SEND\r\n' +
  'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'Message-ID: 456s9wlk3\r\n' +
  'Byte-Range: 1-21/21\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  "Hi, Alice!  I'm Bob!\r\n" +
  '-------dkei38sd$\r\n';

/** §11.1 step 7: Alice -> Bob 200. */
export const basicSessionAliceOk =
  'MSRP dkei38sd 200 OK\r\n' +
  'To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  '-------dkei38sd$\r\n';

/** §11.2 Figure 13: XHTML content (Byte-Range 1-374/374 as printed). */
export const xhtmlMessage =
  'MSRP dsdfoe38sd SEND\r\n' +
  'To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'Message-ID: 456so39s\r\n' +
  'Byte-Range: 1-374/374\r\n' +
  'Content-Type: application/xhtml+xml\r\n' +
  '\r\n' +
  '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
  '<!DOCTYPE html\r\n' +
  'PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"\r\n' +
  '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n' +
  '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\r\n' +
  '  <head>\r\n' +
  '    <title>FY2005 Results</title>\r\n' +
  '</head>\r\n' +
  '  <body>\r\n' +
  '   <p>See the results at <a\r\n' +
  'href="http://example.org/">example.org</a>.</p>\r\n' +
  '  </body>\r\n' +
  '</html>\r\n' +
  '-------dsdfoe38sd$\r\n';

/** §11.4 Figure 14: first chunk of a message/cpim payload (137 body bytes, exact). */
export const cpimFirstChunk =
  'MSRP d93kswow SEND\r\n' +
  'To-Path: msrp://bobpc.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://alicepc.example.com:7654/iau39soe2843z;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 1-137/148\r\n' +
  'Content-Type: message/cpim\r\n' +
  '\r\n' +
  'To: Bob <sip:bob@example.com>\r\n' +
  'From: Alice <sip:alice@example.com>\r\n' +
  'DateTime: 2006-05-15T15:02:31-03:00\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'ABCD\r\n' +
  '-------d93kswow+\r\n';

/** §11.4 Figure 15: second and last chunk (10 body bytes for a 138-148 range, as printed). */
export const cpimSecondChunk =
  'MSRP op2nc9a SEND\r\n' +
  'To-Path: msrp://bobpc.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://alicepc.example.com:7654/iau39soe2843z;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 138-148/148\r\n' +
  'Content-Type: message/cpim\r\n' +
  '\r\n' +
  '1234567890\r\n' +
  '-------op2nc9a$\r\n';

/** §11.5: system message with both reports off. */
export const systemMessage =
  'MSRP d93kswow SEND\r\n' +
  'To-Path: msrp://alicepc.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://example.com:7777/iau39soe2843z;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 1-38/38\r\n' +
  'Failure-Report: no\r\n' +
  'Success-Report: no\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'This conference will end in 5 minutes\r\n' +
  '-------d93kswow$\r\n';

/** §11.6 Figure 16: SEND asking for a success report. */
export const positiveReportSend =
  'MSRP d93kswow SEND\r\n' +
  'To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 1-106/106\r\n' +
  'Success-Report: yes\r\n' +
  'Failure-Report: no\r\n' +
  'Content-Type: text/html\r\n' +
  '\r\n' +
  '<html><body>\r\n' +
  '<p>Here is that important link...\r\n' +
  '<a href="http://www.example.com/foobar">foobar</a>\r\n' +
  '</p>\r\n' +
  '</body></html>\r\n' +
  '-------d93kswow$\r\n';

/** §11.6 Figure 17: the success REPORT (no body). */
export const successReport =
  'MSRP dkei38sd REPORT\r\n' +
  'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n' +
  'Message-ID: 12339sdqwer\r\n' +
  'Byte-Range: 1-106/106\r\n' +
  'Status: 000 200 OK\r\n' +
  '-------dkei38sd$\r\n';
