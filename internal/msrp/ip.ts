// IP address literals of URI hosts (RFC 3986 §3.2.2, RFC 4291 §2.2), for uri.ts.
// Hand-written scanners rather than regular expressions: linear, no backtracking.


/** RFC 3986 §3.2.2 IPv4address: four dec-octets, no leading zeros. Returns null if not one. */
export function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 0x30)) return null;
    let n = 0;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return null;
      n = n * 10 + (c - 0x30);
    }
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/**
 * RFC 3986 §3.2.2 / RFC 4291 §2.2 IPv6address into its eight 16-bit groups, or null.
 * Accepts "::" compression (standing for at least one group) and a trailing embedded IPv4.
 */
export function parseIPv6(s: string): number[] | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups: number[] = [];
  const parseSide = (parts: string[], isLast: boolean): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? '';
      if (isLast && i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (p.length === 0 || p.length > 4) return null;
      for (let j = 0; j < p.length; j++) if (!isHex(p.charCodeAt(j))) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const l = parseSide(left, dbl === -1);
  const r = parseSide(right, true);
  if (l === null || r === null) return null;
  if (dbl === -1) {
    if (l.length !== 8) return null;
    return l;
  }
  if (l.length + r.length > 7) return null; // "::" must stand for one group or more
  groups.push(...l);
  for (let i = l.length + r.length; i < 8; i++) groups.push(0);
  groups.push(...r);
  return groups;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
