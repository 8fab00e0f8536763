// What the `msrp` subcommands share: the relay/TLS/credential options, their parsing and
// the connect + AUTH step. Errors are values carrying the exit status and a human message.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connectEndpoint, type EndpointOptions, type MsrpEndpoint } from '../endpoint.ts';
import { normalizeMsrpUri, type ConnectOptions, type TlsClientOptions } from '../connect.ts';

export interface CliIo {
  readonly stdout: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit statuses: 0 done, 1 the transfer or AUTH failed, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

/** parseArgs option specs for the relay connection, shared by listen and send. */
export const RELAY_OPTIONS = {
  relay: { type: 'string' },
  user: { type: 'string', short: 'u' },
  password: { type: 'string' },
  'password-file': { type: 'string' },
  realm: { type: 'string' },
  expires: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'dns-server': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

export const RELAY_HELP = `Relay options:
  --relay URI            the relay to authenticate to: msrps://host:port (";tcp" is added),
                         or just its domain (example.net, msrps://example.net): the relay is
                         then found by DNS SRV _msrps._tcp.<domain> (RFC 4976 §8), the next
                         target tried when one does not answer; with no SRV record, the
                         domain's A/AAAA on port 2855. TLS checks that the certificate names
                         the domain; the AUTH goes to msrps://<domain>;tcp
  --dns-server ADDR[:PORT]  ask this DNS server (repeatable) instead of the system resolver
  --user, -u NAME        user name for the relay's Digest AUTH (RFC 4976 §5)
  --password-file FILE   read the password from FILE (first line)
  --password PW          the password (visible to other local users: prefer the file or
                         the MSRP_PASSWORD environment variable)
  --realm REALM          only answer a challenge for this realm
  --expires SECONDS      session lifetime to ask for (the relay may answer 423 with its bounds)
  --ca FILE              trust the CA certificates in FILE (PEM) for the relay's TLS
  --insecure             accept any certificate (self-signed development relays only)
`;

export interface RelayValues {
  relay?: string;
  user?: string;
  password?: string;
  'password-file'?: string;
  realm?: string;
  expires?: string;
  ca?: string;
  insecure?: boolean;
  'dns-server'?: string[];
}

/** Sizes like 65536, 64k, 64KiB, 1M, 1MiB, 1.5MB (binary multiples throughout). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`not a size: ${JSON.stringify(text)} (try 65536, 64KiB or 1MiB)`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  const n = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`size out of range: ${text}`);
  return n;
}

export function parseCount(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name} wants a positive whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** The password from --password, --password-file or MSRP_PASSWORD, in that order. */
export async function resolvePassword(v: RelayValues, env: CliIo['env']): Promise<string> {
  if (v.password !== undefined) return v.password;
  if (v['password-file'] !== undefined) {
    const text = await readFile(v['password-file'], 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read --password-file: ${err.message}`);
    });
    return text.split(/\r?\n/)[0] ?? '';
  }
  const fromEnv = env['MSRP_PASSWORD'];
  if (fromEnv !== undefined) return fromEnv;
  throw new UsageError('no password: use --password-file FILE, the MSRP_PASSWORD environment variable, or --password');
}

export function tlsOptions(v: RelayValues): TlsClientOptions {
  return { ...(v.ca === undefined ? {} : { caFile: v.ca }), insecure: v.insecure === true };
}

/** TLS trust and DNS servers: how to reach the relay (or a peer). */
export function connectOptions(v: RelayValues): ConnectOptions {
  const servers = v['dns-server'] ?? [];
  for (const s of servers) {
    if (!isDnsServer(s)) throw new UsageError(`--dns-server wants an IP address with an optional port (10.0.0.10, 10.0.0.10:5353, [fd00::a]:53), not ${JSON.stringify(s)}`);
  }
  return { ...tlsOptions(v), ...(servers.length > 0 ? { dnsServers: servers } : {}) };
}

/** What dns.Resolver#setServers takes: an IPv4 or IPv6 address, `v4:port` or `[v6]:port`. */
function isDnsServer(s: string): boolean {
  if (isIP(s) !== 0) return true;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (m === null || Number(m[3]) < 1 || Number(m[3]) > 65535) return false;
  return m[1] !== undefined ? isIP(m[1]) === 6 : isIP(m[2]!) === 4;
}

/**
 * Connects to the relay and authenticates. Returns the endpoint, or prints why not and
 * returns the exit status.
 */
export async function connectAndAuth(v: RelayValues, io: CliIo, endpointOptions: EndpointOptions): Promise<MsrpEndpoint | number> {
  if (v.relay === undefined) throw new UsageError('--relay is required');
  if (v.user === undefined) throw new UsageError('--user is required with --relay');
  const password = await resolvePassword(v, io.env);
  const relayUri = normalizeMsrpUri(v.relay);
  const expires = parseCount(v.expires, 'expires');
  const c = await connectEndpoint(relayUri, {
    ...connectOptions(v),
    ...endpointOptions,
    onAuthRefreshFailed: (r) => io.stderr.write(`msrp: refreshing the relay session failed: ${r.ok ? '' : r.message}\n`),
  });
  if (!c.ok) {
    io.stderr.write(`msrp: cannot connect to ${relayUri}: ${c.message}\n`);
    return EXIT_FAILED;
  }
  const ep = c.endpoint;
  const auth = await ep.auth({ username: v.user, password, ...(v.realm === undefined ? {} : { realm: v.realm }), ...(expires === undefined ? {} : { expires }) });
  if (!auth.ok) {
    io.stderr.write(`msrp: AUTH to ${relayUri} failed: ${auth.message}\n`);
    await ep.close();
    return EXIT_FAILED;
  }
  io.stderr.write(`msrp: authenticated to ${relayUri} at ${c.via} as ${v.user} (realm ${auth.realm}), session for ${auth.expires} s, refreshed automatically\n`);
  return ep;
}
