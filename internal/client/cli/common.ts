// What the `msrp` subcommands share: the relay/TLS/credential options, their parsing and
// the connect + AUTH step. Errors are values carrying the exit status and a human message.
import { readFile } from 'node:fs/promises';
import { connectEndpoint, type EndpointOptions, type MsrpEndpoint } from '../endpoint.ts';
import { normalizeMsrpUri, type TlsClientOptions } from '../connect.ts';

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
  help: { type: 'boolean', short: 'h' },
} as const;

export const RELAY_HELP = `Relay options:
  --relay URI            the relay to authenticate to: msrps://host:port (";tcp" is added)
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
    ...tlsOptions(v),
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
  io.stderr.write(`msrp: authenticated to ${relayUri} as ${v.user} (realm ${auth.realm}), session for ${auth.expires} s, refreshed automatically\n`);
  return ep;
}
