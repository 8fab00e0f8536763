// Room URIs and allow/deny patterns, checked with a reason a person can act on.
// A room URI is a SIP URI with a user part (RFC 3261 §19.1.1): the chat focus is
// addressed as sip(s):room@domain (RFC 7701 §4). We accept a deliberately narrower user
// alphabet than RFC 3261 (no quotes, parentheses, semicolons or &=$,?/ in user parts) so
// that URIs survive shells, YAML and log lines unescaped.
// Patterns (allow/deny lists) are the same shape where `*` matches any run of
// characters, as in the ChatRoom CRD: `sip:*@example.com`, `sips:alice@*.example.org`.

const USER = /^[A-Za-z0-9\-_.!~*+%]+$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const PARAM = /^[A-Za-z0-9\-_.!~*+%]+(=[A-Za-z0-9\-_.!~*+%[\]:]+)?$/;

/** Why `host` is not a host name or IP literal, or undefined when it is one. */
function hostProblem(host: string, glob: boolean): string | undefined {
  if (host.length === 0) return 'the host part after @ is empty';
  if (host.length > 253) return 'the host part is longer than 253 characters';
  if (IPV4.test(host) || IPV6.test(host)) return undefined;
  for (const label of host.split('.')) {
    const plain = glob ? label.replaceAll('*', 'a') : label;
    if (!LABEL.test(plain) || plain.length > 63) {
      return `host label ${JSON.stringify(label)} is not valid: letters, digits and inner hyphens only${glob ? ', * for any run of characters' : ''}`;
    }
  }
  return undefined;
}

function split(value: string, what: 'URI' | 'pattern'): { user: string; hostport: string; params: string[] } | string {
  if (/[\s\x00-\x1f\x7f]/.test(value)) return `the ${what} must not contain spaces or control characters`;
  const m = /^(sips?):(.*)$/i.exec(value);
  if (!m) return `the ${what} must start with sip: or sips: (e.g. sip:${what === 'URI' ? 'lobby' : '*'}@example.com)`;
  const rest = m[2]!;
  if (rest.includes('?')) return `the ${what} must not carry headers (?...)`;
  const at = rest.lastIndexOf('@');
  if (at <= 0) return `the ${what} needs a user part before @ (e.g. ${m[1]!.toLowerCase()}:${what === 'URI' ? 'lobby' : '*'}@example.com)`;
  const [hostport = '', ...params] = rest.slice(at + 1).split(';');
  return { user: rest.slice(0, at), hostport, params };
}

/** Why `value` is not an acceptable room or moderator URI; undefined when it is. */
export function sipUriProblem(value: string): string | undefined {
  const parts = split(value, 'URI');
  if (typeof parts === 'string') return parts;
  if (parts.user.includes('*')) return 'a URI must not contain * (only allow/deny patterns may)';
  if (!USER.test(parts.user)) return `user part ${JSON.stringify(parts.user)} may only contain letters, digits and - _ . ! ~ + %`;
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(parts.hostport);
  if (!hp) return `host and port ${JSON.stringify(parts.hostport)} are malformed`;
  const hostIssue = hostProblem(hp[1]!, false);
  if (hostIssue) return hostIssue;
  if (hp[2] !== undefined && (Number(hp[2]) < 1 || Number(hp[2]) > 65535)) return `port ${hp[2]} must be between 1 and 65535`;
  const bad = parts.params.find((p) => !PARAM.test(p));
  if (bad !== undefined) return `URI parameter ${JSON.stringify(';' + bad)} is malformed`;
  return undefined;
}

/** Why `value` is not an acceptable allow/deny pattern; undefined when it is. */
export function uriPatternProblem(value: string): string | undefined {
  const parts = split(value, 'pattern');
  if (typeof parts === 'string') return parts;
  if (parts.params.length > 0) return 'a pattern must not have URI parameters (;...)';
  if (!USER.test(parts.user)) return `user part ${JSON.stringify(parts.user)} may only contain letters, digits, - _ . ! ~ + % and * (any run of characters)`;
  if (parts.hostport.includes(':') && !IPV6.test(parts.hostport)) return 'a pattern matches host names, not ports: remove :port';
  return hostProblem(parts.hostport, true);
}

/** Glob match used by the engine and tests: `*` matches any run of characters, case-insensitively. */
export function matchesUriPattern(pattern: string, uri: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(uri);
}
