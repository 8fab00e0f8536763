// The name of a file received in the room, from its Content-Disposition (RFC 6266 §4.1:
// filename, or filename* in RFC 5987 UTF-8 encoding). A participant writes it: only the last
// path segment is kept, and a broken percent-encoding gives no name (the page then says
// "attachment") instead of an exception in the middle of taking the message.

export function fileNameOf(disposition: string | undefined): string | undefined {
  const m = /filename\*?=(?:UTF-8''([^;\s]+)|"([^"]*)"|([^;\s]+))/i.exec(disposition ?? '');
  if (m === null) return undefined;
  let name = m[2] ?? m[3] ?? '';
  if (m[1] !== undefined) {
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      return undefined;
    }
  }
  // Only the last path segment, never a path.
  return name.split(/[\\/]/).pop() || undefined;
}
