// Kamailio 5.6's msrp module as a third-party MSRP relay (RFC 4975/4976) for interop tests
// and benchmarks (docs/architecture.md §6.3, §6.4). Starts one kamailio process in the foreground on free
// loopback ports with e2e/kamailio/msrp-relay.cfg, TCP and TLS listeners, one Digest user.
// Install: `apt-get install kamailio kamailio-tls-modules` (.ci/peers.d/30-kamailio.sh).
// Known peer bugs and the config's workarounds: e2e/kamailio/README.md.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The relay config, next to this file. */
export const KAMAILIO_CFG = join(import.meta.dirname, 'msrp-relay.cfg');

const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'];

/** The kamailio binary: $KAMAILIO_BIN, else /usr/sbin/kamailio. */
export function kamailioBin(): string {
  return process.env.KAMAILIO_BIN ?? '/usr/sbin/kamailio';
}

/** True when the binary is executable and the msrp and tls modules are installed. */
export function kamailioAvailable(): boolean {
  try {
    accessSync(kamailioBin(), constants.X_OK);
  } catch {
    return false;
  }
  return MODULE_DIRS.some((d) => existsSync(join(d, 'msrp.so')) && existsSync(join(d, 'tls.so')));
}

export interface KamailioOptions {
  /** PEM certificate (chain) for the TLS listener, also presented as the client certificate when Kamailio dials a relay. */
  certFile: string;
  /** PEM private key of certFile. */
  keyFile: string;
  /** PEM CA list, written to tls.cfg's ca_list (client certificates are not required either way). */
  caFile?: string;
  /** The one user that AUTH accepts, its clear password and the Digest realm. */
  user: string;
  password: string;
  realm: string;
  /** Fixed ports instead of free ones picked at random. */
  tcpPort?: number;
  tlsPort?: number;
  /** Kamailio log level (`debug=`): 2 info (default), 3 debug (logs every frame). */
  debug?: number;
  /** Shared memory in MB (default 256: the default 64 runs out at ~820 TLS sessions). */
  shmMb?: number;
  /** AUTH Expires bounds in seconds (defaults 30 and 3600). */
  minExpires?: number;
  maxExpires?: number;
  /** Keep the temp folder (config, log) after stop(). It is always kept when kamailio died on its own. */
  keepDir?: boolean;
  /** Milliseconds to wait for both listeners (default 10 000). */
  startTimeoutMs?: number;
}

export interface KamailioRelay {
  readonly host: '127.0.0.1';
  readonly tcpPort: number;
  readonly tlsPort: number;
  /** The relay's own URI to put in an AUTH's To-Path: `msrp://127.0.0.1:PORT;tcp`. */
  readonly uriTcp: string;
  /** Same over TLS: `msrps://127.0.0.1:PORT;tcp`. */
  readonly uriTls: string;
  readonly pid: number;
  /** kamailio's stderr (its log) and stdout. */
  readonly logPath: string;
  readonly dir: string;
  /** Settles when the process exits, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the main process has exited. */
  alive(): boolean;
  /** The log so far. */
  log(): string;
  /** SIGTERM, wait for the exit (SIGKILL to the process group after 5 s), remove the temp folder. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released: good enough on a test machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** A Kamailio config string literal; the pre-processor has no escapes worth trusting, so refuse odd input. */
function cfgString(name: string, value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value) || /["\\$]/.test(value)) {
    throw new TypeError(`startKamailio: ${name} must be printable ASCII without '"', '\\' or '$'`);
  }
  return `"${value}"`;
}

function tlsCfg(o: KamailioOptions): string {
  const server = [
    '[server:default]',
    'method = TLSv1.2+',
    'verify_certificate = no',
    'require_certificate = no',
    `certificate = ${o.certFile}`,
    `private_key = ${o.keyFile}`,
  ];
  if (o.caFile !== undefined) server.push(`ca_list = ${o.caFile}`);
  // The client side is used when the relay connects to itself (both peers AUTHed here over
  // TLS: README.md) or to another relay; test certificates are not checked. It presents the
  // same certificate as a client certificate: relay to relay is mutual TLS (RFC 4976 §9.2),
  // and our relay refuses traffic toward its clients from a peer without one.
  const client = ['[client:default]', 'method = TLSv1.2+', 'verify_certificate = no', 'require_certificate = no',
    `certificate = ${o.certFile}`, `private_key = ${o.keyFile}`];
  return `${server.join('\n')}\n\n${client.join('\n')}\n`;
}

function waitForPort(port: number, deadline: number, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`kamailio exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`));
        return;
      }
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`kamailio did not listen on 127.0.0.1:${port} in time`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Starts kamailio as an MSRP relay; resolves once both listeners accept connections. */
export async function startKamailio(opts: KamailioOptions): Promise<KamailioRelay> {
  if (!kamailioAvailable()) throw new Error(`kamailio with the msrp and tls modules is not installed (${kamailioBin()})`);
  const dir = await mkdtemp(join(tmpdir(), 'msrp-kamailio-'));
  const tcpPort = opts.tcpPort ?? (await freePort());
  let tlsPort = opts.tlsPort ?? (await freePort());
  while (tlsPort === tcpPort) tlsPort = await freePort();
  const tlsCfgPath = join(dir, 'tls.cfg');
  await writeFile(tlsCfgPath, tlsCfg(opts), { mode: 0o600 });
  const logPath = join(dir, 'kamailio.log');

  const defines: Record<string, string> = {
    KAM_HOST: '"127.0.0.1"',
    KAM_TCP_PORT: String(tcpPort),
    KAM_TLS_PORT: String(tlsPort),
    KAM_USER: cfgString('user', opts.user),
    KAM_PASSWORD: cfgString('password', opts.password),
    KAM_REALM: cfgString('realm', opts.realm),
    KAM_TLS_CFG: cfgString('tls.cfg path', tlsCfgPath),
    KAM_DEBUG: String(opts.debug ?? 2),
    KAM_MIN_EXPIRES: String(opts.minExpires ?? 30),
    KAM_MAX_EXPIRES: String(opts.maxExpires ?? 3600),
  };
  const args = [
    '-f', KAMAILIO_CFG,
    // -DD: stay in the foreground as the creator of the worker processes; -E: log to stderr.
    '-DD', '-E',
    '-m', String(opts.shmMb ?? 256),
    '-M', '16',
    // Runtime and working folder: nothing under /var/run/kamailio.
    '-Y', dir, '-w', dir,
    '-a', 'no',
  ];
  for (const [k, v] of Object.entries(defines)) args.push('-A', `${k}=${v}`);

  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // Own process group, so a stuck shutdown can be ended with one kill of that group.
    child = spawn(kamailioBin(), args, { stdio: ['ignore', logFd, logFd], detached: true, cwd: dir });
  } finally {
    closeSync(logFd);
  }
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
  });
  const readLog = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!done && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      const result = await exited;
      // A clean stop by SIGTERM exits 0 (or by the signal); anything else is worth keeping.
      const clean = result.code === 0 || result.signal === 'SIGTERM' || result.code === null;
      if (!opts.keepDir && clean) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  try {
    await waitForPort(tcpPort, deadline, child);
    await waitForPort(tlsPort, deadline, child);
  } catch (err) {
    const log = readLog();
    await stop();
    throw new Error(`${(err as Error).message}\n--- kamailio log (${logPath}) ---\n${tail(log)}`, { cause: err });
  }

  return {
    host: '127.0.0.1',
    tcpPort,
    tlsPort,
    uriTcp: `msrp://127.0.0.1:${tcpPort};tcp`,
    uriTls: `msrps://127.0.0.1:${tlsPort};tcp`,
    pid: child.pid!,
    logPath,
    dir,
    exited,
    alive: () => !done,
    log: readLog,
    stop,
  };
}
