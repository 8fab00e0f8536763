// RFC 7977 (MSRP over WebSocket) §8 example messages as wire bytes: msrps URIs with the
// ";ws" transport parameter and ".invalid" host names. Folded lines ("\") are joined
// with one SP; the doubled SP after "From-Path:" / "To-Path:" is kept as printed.

/** §8.1.1 F3: AUTH, authentication done at the WebSocket layer. */
export const wsAuth =
  'MSRP 49fi AUTH\r\n' +
  'To-Path: msrps://alice@a.example.com:443;ws\r\n' +
  'From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  '-------49fi$\r\n';

/** §8.1.1 F4: 200 with Use-Path and Expires. */
export const wsAuth200 =
  'MSRP 49fi 200 OK\r\n' +
  'To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'From-Path: msrps://alice@a.example.com:443;ws\r\n' +
  'Use-Path: msrps://a.example.com:2855/jui787s2f;tcp\r\n' +
  'Expires: 900\r\n' +
  '-------49fi$\r\n';

/** §8.1.2 F4: 401 challenge. */
export const wsAuth401 =
  'MSRP 4rsxt9nz 401 Unauthorized\r\n' +
  'To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'From-Path: msrps://alice@a.example.com:443;ws\r\n' +
  'WWW-Authenticate: Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"\r\n' +
  '-------4rsxt9nz$\r\n';

/** §8.1.2 F5: AUTH with credentials (the response value is the auth tests' business). */
export const wsAuthWithCredentials =
  'MSRP qy1hsow5 AUTH\r\n' +
  'To-Path: msrps://alice@a.example.com:443;ws\r\n' +
  'From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'Authorization: Digest username="alice", realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", uri="msrps://alice@a.example.com:443;ws", response="5011d0d58fe975e0d0cdc007ae26f4b7", qop=auth, cnonce="zic5ml401prb", nc=00000001\r\n' +
  '-------qy1hsow5$\r\n';

/** §8.2.2 F1: SEND from the WebSocket client through the relay. */
export const wsSend =
  'MSRP 6aef SEND\r\n' +
  'To-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://bob.example.com:49154/foo;tcp\r\n' +
  'From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'Success-Report: no\r\n' +
  'Byte-Range: 1-*/*\r\n' +
  'Message-ID: 87652\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  "Hi Bob, I'm about to send you file.mpeg\r\n" +
  '-------6aef$\r\n';

/** §8.2.2 F2 + F3: the relay's 200, then the forwarded SEND (two SP after "From-Path:"). */
export const wsRelayOkThenForward =
  'MSRP 6aef 200 OK\r\n' +
  'To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'From-Path: msrps://a.example.com:2855/jui787s2f;tcp\r\n' +
  '-------6aef$\r\n' +
  'MSRP juh76 SEND\r\n' +
  'To-Path: msrps://bob.example.com:49154/foo;tcp\r\n' +
  'From-Path:  msrps://a.example.com:2855/jui787s2f;tcp msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'Success-Report: no\r\n' +
  'Byte-Range: 1-*/*\r\n' +
  'Message-ID: 87652\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  "Hi Bob, I'm about to send you file.mpeg\r\n" +
  '-------juh76$\r\n';

/** §8.2.3 F3 + F4: SEND delivered to the WebSocket client and its 200. */
export const wsDeliverAndOk =
  'MSRP yh67 SEND\r\n' +
  'To-Path:  msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  'From-Path:  msrps://a.example.com:2855/jui787s2f;tcp msrps://bob.example.com:49154/foo;tcp\r\n' +
  'Success-Report: no\r\n' +
  'Byte-Range: 1-*/*\r\n' +
  'Message-ID: 87652\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'Thanks for the file.\r\n' +
  '-------yh67$\r\n' +
  'MSRP yh67 200 OK\r\n' +
  'To-Path:  msrps://a.example.com:2855/jui787s2f;tcp\r\n' +
  'From-Path:  msrps://df7jal23ls0d.invalid:2855/98cjs;ws\r\n' +
  '-------yh67$\r\n';
