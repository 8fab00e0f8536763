// Example messages from the RFCs, as test vectors. Each is written with LF line ends and
// converted to CRLF; Content-Length is computed from the body unless the vector is about
// a wrong Content-Length. RFC 4475 messages are transcribed by their tag names; where the
// RFC prints unprintable bytes (e.g. UTF-8) they are written as JavaScript escapes.

/** LF → CRLF; `body` appended after the empty line with its Content-Length when `length` is 'auto'. */
export function sip(head: string, body = '', length: number | 'auto' | 'none' = 'auto'): Buffer {
  const h = head.replace(/^\n/, '').replace(/\n$/, '').split('\n').join('\r\n');
  const b = body.replace(/^\n/, '').split('\n').join('\r\n');
  const cl = length === 'none' ? '' : `\r\nContent-Length: ${length === 'auto' ? Buffer.byteLength(b) : length}`;
  return Buffer.from(`${h}${cl}\r\n\r\n${b}`, 'utf8');
}

export const WSINV_BODY = `
v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
`;

/** RFC 4475 "wsinv": a short tortuous INVITE (folding, odd whitespace, compact forms, escapes). */
export const WSINV = Buffer.from(`INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33
${WSINV_BODY}`.split('\n').join('\r\n'), 'utf8');

/** RFC 3261 §4: Alice's INVITE to Bob (the SDP the RFC does not show is filled in). */
export const RFC3261_INVITE = sip(`
INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Type: application/sdp
`, `
v=0
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com
s=-
c=IN IP4 pc33.atlanta.com
t=0 0
m=audio 49172 RTP/AVP 0
a=rtpmap:0 PCMU/8000
`);

/** RFC 3261 §4: Bob's 200 OK as it reaches Alice (three Vias, one with a space before ";received"). */
export const RFC3261_200 = sip(`
SIP/2.0 200 OK
Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds ;received=192.0.2.1
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.com
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
`);

const COMMON = `Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK-torture
Max-Forwards: 70
From: <sip:caller@example.net>;tag=9fxced76sl
Call-ID: torture.1@example.net`;

/** RFC 4475 valid messages (subset), after the RFC's tag names. */
export const VALID: Readonly<Record<string, Buffer>> = {
  // Escaped characters in the Request-URI and a user part that looks like a URI.
  esc01: sip(`
INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
${COMMON}
CSeq: 1 INVITE
Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
`),
  // An escaped NUL in the user part is legal (the raw byte is not).
  escnull: sip(`
REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
${COMMON}
CSeq: 14 REGISTER
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
`),
  // No space between display name and "<".
  lwsdisp: sip(`
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK-lwsdisp
Max-Forwards: 70
From: caller<sip:caller@example.com>;tag=323
Call-ID: lwsdisp.1@example.net
CSeq: 60 OPTIONS
`),
  // A ";" inside the user part of the Request-URI.
  semiuri: sip(`
OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
${COMMON}
CSeq: 8 OPTIONS
`),
  // Max-Forwards 0 is valid syntax (a UAS answers 483 only when it would forward).
  zeromf: sip(`
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK-zeromf
Max-Forwards: 0
From: <sip:caller@example.net>;tag=3ghsd41
Call-ID: zeromf.2@example.net
CSeq: 35 OPTIONS
`),
  // A response with an empty reason phrase (the SP after the code is present).
  noreason: sip(`
SIP/2.0 100 \n${COMMON.replace('Max-Forwards: 70\n', '')}
To: <sip:user@example.com>
CSeq: 35 INVITE
`.replace('100 \n\n', '100 \n')),
  // A UTF-8 reason phrase.
  unreason: sip(`
SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
`),
};

/** RFC 4475 invalid messages (subset): tag name → [bytes, expected code, expected status]. */
export const INVALID: Readonly<Record<string, readonly [Buffer, string, number]>> = {
  // Content-Length larger than the datagram.
  clerr: [sip(`
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
`, 'v=0\n', 9999), 'body-length-mismatch', 400],
  ncl: [sip(`
INVITE sip:user@example.com SIP/2.0
${COMMON}
To: sip:user@example.com
CSeq: 1 INVITE
Content-Type: application/sdp
`, 'v=0\n', -999), 'bad-content-length', 400],
  scalar02: [sip(`
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 1${'0'.repeat(20)}
Contact: <sip:user@host129.example.com>;expires=280297596632815
`), 'bad-header-value', 400],
  quotbal: [sip(`
INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
${COMMON}
CSeq: 8 INVITE
`), 'bad-header-value', 400],
  ltgtruri: [sip(`
INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
${COMMON}
CSeq: 23 INVITE
`), 'bad-request-uri', 400],
  lwsstart: [sip(`
INVITE  sip:user@example.com  SIP/2.0
To: sip:user@example.com
${COMMON}
CSeq: 1 INVITE
`), 'bad-start-line', 400],
  trws: [sip(`
OPTIONS sip:remote-target@example.com SIP/2.0  
To: <sip:remote-target@example.com>
${COMMON}
CSeq: 1 OPTIONS
`), 'bad-start-line', 400],
  lwsruri: [sip(`
INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
${COMMON}
CSeq: 1 INVITE
`), 'bad-start-line', 400],
  badvers: [sip(`
OPTIONS sip:t.watson@example.org SIP/7.0
To: <sip:t.watson@example.org>
${COMMON}
CSeq: 1 OPTIONS
`), 'bad-version', 505],
  mismatch01: [sip(`
OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
${COMMON}
CSeq: 8 INVITE
`), 'cseq-method-mismatch', 400],
  multi01: [sip(`
INVITE sip:user@company.com SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKvscmmmsj
Max-Forwards: 70
To: sip:user@example.com
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.com;tag=3413415
To: sip:user@example.com
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
`), 'duplicate-header', 400],
  mcl01: [Buffer.from(sip(`
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK-mcl01
Max-Forwards: 70
From: sip:caller@example.net;tag=134161461246
To: sip:user@example.com
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Content-Type: text/plain
`, 'There\'s no way to know how many octets are supposed to be here.\n', 0).toString().replace('Content-Length: 0', 'Content-Length: 10')), 'bad-content-length', 400],
  insuf: [sip(`
INVITE sip:user@example.com SIP/2.0
CSeq: 193942 INVITE
Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
`), 'missing-header', 400],
};
