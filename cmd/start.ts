// npm start: everything in one process on the embedded default (docs/architecture.md §1.3) — the relay
// engine, the chat server (SIP focus on 127.0.0.1:5060 UDP+TCP, MSRP switch on 2857) and the
// admin API on one PGlite database in ./data, a self-signed certificate made on first start,
// demo users, a demo room sip:lobby@localhost, the browser chat page on http://127.0.0.1:8088/
// (the relay's loopback ws: listener; SIP over WebSocket on 5066), and a printed quick start.
// No Kubernetes, no Postgres.
//
//   node cmd/start.ts [--data-dir DIR] [--plain-tcp] [--config FILE]
//
// Environment: MSRP_DATA_DIR (the data folder, default ./data), MSRP_START_PLAIN_TCP=1
// (also listen on plain TCP, port 2856, with AUTH over TCP allowed: development only), and
// every engine setting as MSRP_<SECTION>__<KEY> (e.g. MSRP_RELAY__LISTEN__0__PORT=3855,
// MSRP_HTTP__PORT, MSRP_CHAT__SIP__UDP_PORT, MSRP_CHAT__ENABLED=false), admin settings as
// MSRP_ADMIN_<SECTION>__<KEY> (MSRP_ADMIN_HTTP__PORT).
// Logs go to stderr; the quick start goes to stdout.
import { randomBytes } from 'node:crypto';
import { randomBase62 } from '../internal/msrp/transaction.ts';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseArgs } from 'node:util';
import { loadAdminConfig, loadEngineConfig } from '../internal/config/index.ts';
import { EngineStartError, startEngine, type RunningEngine } from '../internal/engine/engine.ts';
import { onShutdownSignals } from '../internal/engine/signals.ts';
import { openStore, type Store } from '../internal/store/index.ts';
import { createLogger, type Logger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';
import { classifyAddress } from '../internal/transport/address-class.ts';
import { ensureSelfSignedTls } from '../internal/transport/self-signed.ts';
import type * as AdminModuleNs from '../internal/admin/app.ts';

type AdminModule = typeof AdminModuleNs;

const DEMO_REALM = 'localhost';
const DEMO_USERS = ['alice', 'bob', 'carol'] as const;
const DEMO_ROOM = 'lobby';
const DEMO_ROOM_URI = `sip:${DEMO_ROOM}@${DEMO_REALM}`;

interface DemoCredentials {
  note: string;
  realm: string;
  users: { username: string; password: string }[];
  adminToken: string;
}

/** The defaults of `npm start`, as an environment underlay: the caller's MSRP_* win. */
function startDefaults(dataDir: string, plainTcp: boolean): Record<string, string> {
  // The ws: listener (RFC 7977) serves the browser chat page and carries its MSRP; it is plain
  // so that a browser needs no trust in the self-signed CA, and loopback only.
  const listen = [{ host: '127.0.0.1', port: 2855, transport: 'tls' }, { host: '127.0.0.1', port: 8088, transport: 'ws' }];
  if (plainTcp) listen.push({ host: '127.0.0.1', port: 2856, transport: 'tcp' });
  return {
    MSRP_RELAY__LISTEN: JSON.stringify(listen),
    MSRP_RELAY__PUBLIC_HOST: 'localhost',
    MSRP_RELAY__ALIASES: '127.0.0.1',
    MSRP_AUTH__REALMS: JSON.stringify([{ name: DEMO_REALM, hosts: ['127.0.0.1'] }]),
    // AUTH without TLS: over the loopback ws: listener of the chat page (RFC 4976 §5 wants TLS;
    // on loopback nobody can listen in), and over plain TCP with --plain-tcp (development only).
    MSRP_AUTH__ALLOW_PLAIN_TCP: 'true',
    // A plain TCP peer can never present a certificate: in that development mode, endpoints
    // without a relay may deliver to our clients (docs/relay.md, tls.peerCertificates).
    ...(plainTcp ? { MSRP_TLS__PEER_CERTIFICATES: 'verify-if-presented' } : {}),
    MSRP_TLS__DIR: join(dataDir, 'tls'),
    MSRP_DATABASE__DATA_DIR: join(dataDir, 'pglite'),
    MSRP_HTTP__HOST: '127.0.0.1',
    MSRP_LOG__PRETTY: 'true',
    // Everything is local: a short drain is enough.
    MSRP_DRAIN__DEADLINE_SEC: '5',
    // Chat: the focus on the standard SIP port, the switch next to the relay (2856 is the
    // --plain-tcp relay listener), both on loopback; room URIs sip:<room>@localhost.
    MSRP_CHAT__ENABLED: 'true',
    MSRP_CHAT__DOMAIN: DEMO_REALM,
    MSRP_CHAT__SIP__HOST: '127.0.0.1',
    MSRP_CHAT__SIP__UDP_PORT: '5060',
    MSRP_CHAT__SIP__TCP_PORT: '5060',
    // SIP over WebSocket (RFC 7118) for the chat page, plain like its MSRP listener.
    MSRP_CHAT__SIP__WS_PORT: '5066',
    MSRP_CHAT__PAGE__ROOM: DEMO_ROOM_URI,
    MSRP_CHAT__MSRP__HOST: '127.0.0.1',
    MSRP_CHAT__MSRP__PORT: '2857',
    MSRP_ADMIN_HTTP__HOST: '127.0.0.1',
    MSRP_ADMIN_HTTP__PORT: '8080',
  };
}

async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Demo accounts, for this demo only: generated once, kept in `<data>/demo-credentials.json`
 * (mode 0600) so a restart prints the same ones, and created in the store when missing.
 */
async function ensureDemo(store: Store, file: string): Promise<DemoCredentials> {
  let demo: DemoCredentials | undefined;
  if (existsSync(file)) demo = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
  const fresh = demo === undefined;
  demo ??= {
    note: 'Demo credentials written by `npm start` for local use only. Delete this file and the data folder to start over.',
    realm: DEMO_REALM,
    users: DEMO_USERS.map((username) => ({ username, password: demoPassword() })),
    adminToken: randomBytes(32).toString('base64url'),
  };
  // A demo file from an older version may lack some of today's demo users: add them.
  const missing = DEMO_USERS.filter((name) => !demo.users.some((u) => u.username === name));
  for (const username of missing) demo.users.push({ username, password: demoPassword() });
  if ((await store.getRealm(demo.realm)) === undefined) await store.createRealm(demo.realm);
  for (const u of demo.users) {
    const existing = await store.getUserCredentials(demo.realm, u.username);
    if (existing === undefined) await store.createUser(demo.realm, u.username, u.password);
    else if (fresh) await store.setPassword(demo.realm, u.username, u.password);
  }
  if (fresh || missing.length > 0) await writePrivate(file, JSON.stringify(demo, null, 2) + '\n');
  return demo;
}

/**
 * The demo room, through the store's rooms API (as the admin API writes it), when missing:
 * created on the first start, and again on a start after someone deleted it.
 */
async function ensureLobby(store: Store): Promise<void> {
  if ((await store.rooms.get(DEMO_ROOM)) !== undefined) return;
  await store.rooms.put(DEMO_ROOM, {
    uri: DEMO_ROOM_URI,
    subject: 'Lobby of the npm start demo',
    policy: {
      nicknames: true, privateMessages: true, maxParticipants: 100, history: { enabled: true, size: 50 },
      allow: [], deny: [], moderators: [], welcome: 'Welcome to the lobby. /who lists who is here, /msg NICK text whispers, /quit leaves.',
    },
  });
}

interface AdminHandle {
  url: string;
  close(): Promise<void>;
}

/** The admin API on the same store, when the admin application is present in this tree. */
async function startAdmin(store: Store, logger: Logger, env: NodeJS.ProcessEnv, token: string, controlUrl: string): Promise<AdminHandle | string> {
  // Loaded lazily: the relay must come up even when the admin application does not load.
  let mod: AdminModule;
  try {
    mod = await import('../internal/admin/app.ts');
  } catch (err) {
    return `admin API not started: ${(err as Error).message}`;
  }
  const c = loadAdminConfig({ env });
  const app = await mod.buildAdminApp({
    store, logger, metrics: createMetrics(), bootstrapToken: token, engineUrl: controlUrl,
    engineTimeoutMs: c.engine.timeoutMs, bodyLimit: c.http.bodyLimitBytes, tokenCacheTtlMs: c.auth.tokenCacheTtlMs,
  });
  await app.listen({ host: c.http.host, port: c.http.port });
  const a = app.server.address();
  const port = typeof a === 'object' && a !== null ? a.port : c.http.port;
  return { url: `http://${c.http.host}:${port}`, close: () => app.close() };
}

/**
 * A demo password: 16 base62 characters from the CSPRNG (95 bits). Letters and digits only,
 * so it never begins with "-" (which a command line would read as an option) and needs no
 * quoting when printed.
 */
function demoPassword(): string {
  return randomBase62(16);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, 'plain-tcp': { type: 'boolean' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    process.stdout.write('usage: npm start [-- --data-dir DIR] [--plain-tcp] [--config FILE]\n');
    return;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env['MSRP_DATA_DIR'] ?? './data');
  const plainTcp = values['plain-tcp'] === true || /^(1|true|yes|on)$/i.test(process.env['MSRP_START_PLAIN_TCP'] ?? '');
  const env: NodeJS.ProcessEnv = { ...startDefaults(dataDir, plainTcp), ...process.env };
  // Chat participants reach the room's switch through the relay (RFC 4976: a=path is the
  // relay's Use-Path then the client), so the relay must be allowed to forward to the switch,
  // and only to it: loopback is private, and the relay is no open relay.
  env['MSRP_NEXT_HOPS__ALLOW'] ??= JSON.stringify([{ host: '127.0.0.1', port: Number(env['MSRP_CHAT__MSRP__PORT'] ?? '2857') }]);
  env['MSRP_NEXT_HOPS__ALLOW_PRIVATE'] ??= 'true';
  // MSRP_ADMIN_* belong to the admin API; the engine's loader would take them for typos.
  const engineEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('MSRP_ADMIN_')));
  const config = loadEngineConfig({ file: values.config, env: engineEnv });
  // npm start allows AUTH without TLS (RFC 4976 §5 wants TLS) because its plain listeners are on
  // loopback, where nobody can listen in. One moved elsewhere (MSRP_RELAY__LISTEN__n__HOST) would
  // take passwords in the clear: the caller must ask for that with --plain-tcp or set
  // MSRP_AUTH__ALLOW_PLAIN_TCP explicitly.
  const exposed = config.relay.listen.find((l) => (l.transport === 'tcp' || l.transport === 'ws') && classifyAddress(l.host) !== 'loopback');
  if (exposed !== undefined && !plainTcp && process.env['MSRP_AUTH__ALLOW_PLAIN_TCP'] === undefined) {
    throw new Error(`the plain listener ${exposed.transport}://${exposed.host}:${exposed.port} is not on loopback: AUTH over it would be without TLS; use --plain-tcp or set MSRP_AUTH__ALLOW_PLAIN_TCP`);
  }
  const logger = createLogger({ name: 'msrp', level: config.log.level, pretty: config.log.pretty, destination: pino.destination({ dest: 2, sync: false }) });

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (await ensureSelfSignedTls({ dir: config.tls.dir, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] })) {
    logger.info({ dir: config.tls.dir }, 'generated a self-signed CA and server certificate');
  }

  // One process by design (PGlite, the admin API beside the engine): workers are msrpd's (docs/relay.md "Workers").
  if (config.relay.workers !== 1) logger.warn({ workers: config.relay.workers }, 'npm start runs the relay in one process: relay.workers applies to msrpd');
  const store = await openStore({ dataDir: config.database.dataDir, logger });
  const demo = await ensureDemo(store, join(dataDir, 'demo-credentials.json'));
  if (config.chat.enabled) await ensureLobby(store);
  let engine: RunningEngine;
  try {
    // The engine shares the store with the admin API: it leaves it open, we close it last.
    // Digest nonces are signed with a fresh secret per process, as npm start always did
    // (it does not read auth.nonceSecretFile).
    engine = await startEngine(config, {
      logger, store, hostname: 'localhost', nonceSecret: randomBytes(32),
      ...(values.config !== undefined ? { configFile: { file: values.config, env: engineEnv } } : {}),
    });
  } catch (err) {
    if (err instanceof EngineStartError && err.part === 'chat' && err.code === 'EADDRINUSE') {
      throw new Error(`chat server: ${err.message} (another SIP server on the port? set MSRP_CHAT__SIP__UDP_PORT / MSRP_CHAT__SIP__TCP_PORT, or MSRP_CHAT__ENABLED=false)`, { cause: err });
    }
    throw err;
  }
  const { relay, chat } = engine;
  const admin = await startAdmin(store, logger, env, demo.adminToken, `http://127.0.0.1:${relay.control!.port}`);
  onShutdownSignals(engine, logger, {
    async after() {
      if (typeof admin !== 'string') await admin.close();
      await store.close();
    },
  });

  const chatPorts = chat === undefined ? undefined : { sip: chat.focus.udpPort ?? chat.focus.tcpPort ?? 5060, tcp: chat.focus.tcpPort !== undefined, msrp: chat.msrp.port };
  // The chat page is served on the relay's ws: listener when the focus has a SIP WebSocket port.
  const pageListener = relay.addresses.find((a) => a.websocket && !a.secure);
  const page = chat !== undefined && config.chat.page.enabled && chat.focus.wsPort !== undefined && pageListener !== undefined
    ? `http://${pageListener.address}:${pageListener.port}/` : undefined;
  process.stdout.write(quickStart({ dataDir, relayUri: relay.uri, demo, admin, plainTcp, metrics: relay.http, ports: relay.addresses, chat: chatPorts, page }));
}

function quickStart(o: {
  dataDir: string;
  relayUri: string;
  demo: DemoCredentials;
  admin: AdminHandle | string;
  plainTcp: boolean;
  metrics: { port: number; address: string } | undefined;
  ports: { secure: boolean; websocket: boolean; address: string; port: number }[];
  chat: { sip: number; tcp: boolean; msrp: number } | undefined;
  page: string | undefined;
}): string {
  // Paths as short as they can be from here: relative below the working folder, else absolute.
  const shown = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  const rel = shown(o.dataDir);
  // The same Node that runs us (npm puts Node 24 from node_modules first on PATH; the
  // machine's own `node` may be older), and msrp.ts next to this file.
  const node = process.execPath.startsWith(process.cwd() + sep) ? shown(process.execPath) : 'node';
  const msrp = `${node} ${shown(fileURLToPath(new URL('./msrp.ts', import.meta.url)))}`;
  const ca = join(rel, 'tls', 'ca.crt');
  const relay = o.relayUri.replace(/;tcp$/, '');
  const [alice, bob] = o.demo.users;
  const tcp = o.ports.find((p) => !p.secure && !p.websocket);
  const lines = [
    '',
    'MSRP relay is running (npm start).',
    '',
    `  relay URI   ${o.relayUri}   (TLS; trust ${ca})`,
    ...(o.plainTcp && tcp !== undefined ? [`  plain TCP   msrp://localhost:${tcp.port};tcp   (development only, AUTH allowed over TCP)`] : []),
    `  realm       ${o.demo.realm}`,
    ...o.demo.users.map((u) => `  user        ${u.username} / ${u.password}`),
    typeof o.admin === 'string' ? `  admin API   ${o.admin}` : `  admin API   ${o.admin.url}/docs   bootstrap token: ${o.demo.adminToken}`,
    ...(o.metrics !== undefined ? [`  metrics     http://${o.metrics.address}:${o.metrics.port}/metrics   (/healthz, /readyz)`] : []),
    ...(o.chat !== undefined ? [`  chat        ${DEMO_ROOM_URI}   (SIP focus 127.0.0.1:${o.chat.sip} UDP${o.chat.tcp ? '+TCP' : ''}, MSRP switch msrps://127.0.0.1:${o.chat.msrp})`] : []),
    ...(o.page !== undefined ? [`  chat page   ${o.page}   (open it in a browser, log in as a demo user below)`] : []),
    `  data        ${rel}   (demo credentials in ${join(rel, 'demo-credentials.json')}, for this demo only)`,
    '',
    'Send a file from one terminal to another through the relay:',
    '',
    `  terminal 1:  ${msrp} listen --relay ${relay} --user ${bob!.username} --password=${shellQuote(bob!.password)} --ca ${ca} --out ./inbox --count 1`,
    `  terminal 2:  ${msrp} send --relay ${relay} --user ${alice!.username} --password=${shellQuote(alice!.password)} --ca ${ca} --to "<path printed by listen>" --file README.md`,
    ...(o.chat !== undefined ? [
      '',
      `Chat in the demo room ${DEMO_ROOM_URI} through the relay, one terminal per person (type to talk; /nick NAME, /msg NICK text, /file PATH, /who, /quit):`,
      '',
      ...o.demo.users.map((u, i) => `  terminal ${i + 1}:  ${msrp} chat ${DEMO_ROOM_URI} --focus 127.0.0.1:${o.chat!.sip} --relay ${relay} --user ${u.username} --password=${shellQuote(u.password)} --ca ${ca} --from sip:${u.username}@localhost --nick ${u.username}`),
    ] : []),
    '',
    'Ctrl-C stops the relay (in-flight transfers finish first).',
    '',
  ];
  return lines.join('\n');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
