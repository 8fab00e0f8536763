// TLS material from files in the cert-manager / kubernetes.io/tls layout: `tls.crt`,
// `tls.key` and (optionally) `ca.crt` in one directory. Kubernetes updates a mounted
// Secret by writing a new hidden folder and atomically swapping the `..data` symlink,
// so watching the files themselves is unreliable: we watch the directory (fs.watch) and
// also poll a fingerprint of the resolved files, then reload when it changes. A reload
// that fails to parse keeps the previous context (a half-written update must not take
// the listener down).
import { watchFolder } from '../config/watch-file.ts';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle of trusted CAs for peers (relay-to-relay mutual TLS); undefined when ca.crt is absent. */
  ca: string | undefined;
}

/** TLS 1.2 is the floor everywhere (RFC 4976 §9.2 requires TLS; older versions are broken). */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

export async function loadTlsMaterial(dir: string): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
    readFile(join(dir, 'ca.crt'), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    }),
  ]);
  // Validate now: createSecureContext throws on a key that does not match or bad PEM.
  createSecureContext(secureContextOptions({ cert, key, ca }));
  return { cert, key, ca };
}

export function secureContextOptions(m: TlsMaterial): SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca !== undefined ? { ca: m.ca } : {}), minVersion: MIN_TLS_VERSION };
}

async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of ['tls.crt', 'tls.key', 'ca.crt']) {
    try {
      const s = await stat(join(dir, f)); // follows the ..data symlink chain
      parts.push(`${f}:${s.ino}:${s.size}:${s.mtimeMs}`);
    } catch {
      parts.push(`${f}:-`);
    }
  }
  return parts.join('|');
}

export interface TlsWatcherOptions {
  dir: string;
  /** Fallback polling period (fs.watch misses events on some volume types). */
  pollIntervalMs?: number;
  /** Delay after a change event before reading, so a multi-file update lands first. */
  debounceMs?: number;
  onReload(material: TlsMaterial): void;
  onError(err: Error): void;
}

export interface TlsWatcher {
  readonly current: TlsMaterial;
  /** Re-reads now (also used by tests); resolves true when the material changed. */
  check(): Promise<boolean>;
  close(): void;
}

export async function watchTlsMaterial(options: TlsWatcherOptions): Promise<TlsWatcher> {
  let current = await loadTlsMaterial(options.dir);
  let lastPrint = await fingerprint(options.dir);
  const w = watchFolder(options.dir, options, async (closed) => {
    const print = await fingerprint(options.dir);
    if (print === lastPrint || closed()) return false;
    const next = await loadTlsMaterial(options.dir);
    lastPrint = print;
    if (next.cert === current.cert && next.key === current.key && next.ca === current.ca) return false;
    current = next;
    options.onReload(next);
    return true;
  });
  return {
    get current() {
      return current;
    },
    check: () => w.check(),
    close: () => w.close(),
  };
}
