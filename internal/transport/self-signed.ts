// A self-signed CA and a server certificate for `npm start` (docs/architecture.md §1.3), written in the
// cert-manager / kubernetes.io/tls layout the engine reads in production: `tls.crt`,
// `tls.key`, `ca.crt`. Node has no certificate generator, so this drives the `openssl`
// CLI. The CA key is thrown away after signing: to renew, delete the folder and restart.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class SelfSignedError extends Error {
  readonly code: 'openssl-missing' | 'openssl-failed' | 'incomplete';
  constructor(code: SelfSignedError['code'], message: string) {
    super(message);
    this.name = 'SelfSignedError';
    this.code = code;
  }
}

export interface SelfSignedOptions {
  /** Folder that will hold tls.crt, tls.key and ca.crt. */
  dir: string;
  /** DNS names in the server certificate's subjectAltName. */
  dnsNames: string[];
  /** IP addresses in the subjectAltName. */
  ipAddresses: string[];
  /** Validity of the server certificate (default 825 days, the longest browsers accept). */
  days?: number;
  /** The openssl binary (default `openssl` on PATH). */
  openssl?: string;
}

/** True when `dir` already holds the three files. */
export function hasTlsFiles(dir: string): boolean {
  return ['tls.crt', 'tls.key', 'ca.crt'].every((f) => existsSync(join(dir, f)));
}

/**
 * Generates the CA and server certificate into `dir` unless the files are already there.
 * Returns true when it generated them. The files appear together (written into a sibling
 * temp folder, then renamed), so an interrupted first start leaves no half a key pair.
 */
export async function ensureSelfSignedTls(o: SelfSignedOptions): Promise<boolean> {
  if (hasTlsFiles(o.dir)) return false;
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0) {
    // Someone put files there: never overwrite part of somebody's key material.
    throw new SelfSignedError('incomplete', `${o.dir} exists but lacks one of tls.crt, tls.key, ca.crt; complete it or remove the folder`);
  }
  const bin = o.openssl ?? 'openssl';
  try {
    await run(bin, ['version']);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SelfSignedError('openssl-missing', code === 'ENOENT'
      ? `the openssl command was not found on PATH; it is needed once to create a self-signed certificate in ${o.dir}. ` +
        'Install it (Debian/Ubuntu: apt-get install openssl) or put tls.crt, tls.key and ca.crt there yourself.'
      : `openssl does not run: ${(err as Error).message}`);
  }
  await mkdir(dirname(o.dir), { recursive: true });
  const tmp = await mkdtemp(`${o.dir}.tmp-`);
  const openssl = async (args: string[]): Promise<void> => {
    try {
      await run(bin, args, { cwd: tmp });
    } catch (err) {
      throw new SelfSignedError('openssl-failed', `openssl ${args[0]} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  };
  try {
    const days = String(o.days ?? 825);
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
    await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', String(Math.max(Number(days), 3650)),
      '-subj', '/CN=msrp npm start demo CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt']);
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'tls.key']);
    await openssl(['req', '-new', '-key', 'tls.key', '-subj', `/CN=${o.dnsNames[0] ?? o.ipAddresses[0] ?? 'localhost'}`, '-out', 'tls.csr']);
    const san = [...o.dnsNames.map((n) => `DNS:${n}`), ...o.ipAddresses.map((a) => `IP:${a}`)].join(',');
    await writeFile(join(tmp, 'tls.ext'), [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      // clientAuth too: the same certificate is presented to other relays (mutual TLS, RFC 4976 §9.2).
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${san}`,
    ].join('\n'));
    await openssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-set_serial', '0x' + randomBytes(16).toString('hex'), '-days', days, '-sha256', '-extfile', 'tls.ext', '-out', 'tls.crt']);
    // cert-manager puts the chain in tls.crt; with one intermediate-free CA the leaf is the chain.
    await chmod(join(tmp, 'tls.key'), 0o600);
    for (const f of ['ca.key', 'tls.csr', 'tls.ext']) await rm(join(tmp, f), { force: true });
    if (existsSync(o.dir)) await rmdir(o.dir); // empty, checked above
    await rename(tmp, o.dir);
    return true;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
