// Strings kept for a long time (per session, per connection) must not drag other memory
// along. V8 represents a substring of 13+ characters as a view on its parent (a sliced
// string, keeping the whole parent alive: for a URI parsed from a head, the latin1 text of
// the frame or of the parser's read window) and `a + b` / template literals as a tree of
// nodes (a cons string, 32 bytes per concatenation plus the parts). `ownString` returns a
// flat copy that shares nothing with its source.
export function ownString(s: string): string {
  if (s.length === 0) return '';
  // latin1 round trip when every code unit fits a byte (MSRP heads are decoded as latin1);
  // UTF-16 otherwise, which keeps any code unit, lone surrogates included.
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) return Buffer.from(s, 'utf16le').toString('utf16le');
  }
  return Buffer.from(s, 'latin1').toString('latin1');
}
