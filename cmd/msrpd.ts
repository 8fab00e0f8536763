// msrpd: the engine. Thin wiring only (docs/architecture.md §1.1): config, store, relay, the chat
// server when `chat.enabled` (SIP focus + MSRP switch, internal/focus/server.ts), signals.
//
//   msrpd [--config FILE]                      run the relay (and the chat server)
//   msrpd users add|passwd --realm R --user U [--password P]   (prompts when --password is absent)
//   msrpd users disable|enable|delete --realm R --user U
//   msrpd users list --realm R
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadEngineConfig, type EngineConfig } from '../internal/config/index.ts';
import { startChatFromConfig } from '../internal/focus/from-config.ts';
import { roomsControl } from '../internal/focus/control.ts';
import type { RunningChatServer } from '../internal/focus/server.ts';
import { connectStoreCredentials } from '../internal/relay/credential-cache.ts';
import { relayOptionsFromConfig } from '../internal/relay/engine-options.ts';
import { startRelay } from '../internal/relay/relay.ts';
import { openStore, type Store } from '../internal/store/index.ts';
import { createLogger, type Logger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';

function openStoreFrom(c: EngineConfig, logger: Logger): Promise<Store> {
  return openStore({
    url: c.database.url, dataDir: c.database.dataDir, secretKeyFile: c.database.secretKeyFile,
    sslCaFile: c.database.sslCaFile, statementTimeoutMs: c.database.statementTimeoutMs, poolMax: c.database.poolMax, logger,
  });
}

async function serve(c: EngineConfig, logger: Logger): Promise<void> {
  const store = await openStoreFrom(c, logger);
  const nonceSecret = c.auth.nonceSecretFile !== undefined ? readFileSync(c.auth.nonceSecretFile) : randomBytes(32);
  const options = relayOptionsFromConfig(c, { hostname: hostname(), nonceSecret });
  const metrics = createMetrics();
  // Cache over the store, invalidated by its change feed, answering from cache while the
  // database is down; its health shows in /readyz and msrp_store_up.
  const sc = await connectStoreCredentials(store, { metrics, logger });
  const credentials = sc.credentials;
  const relay = await startRelay(options, { credentials, logger, metrics, storeHealth: sc.health });
  let chat: RunningChatServer | undefined;
  try {
    chat = await startChatFromConfig(c, { logger, metrics, store, hostname: hostname() });
  } catch (err) {
    await relay.stop();
    throw err;
  }
  if (chat !== undefined) {
    relay.attachRooms(roomsControl(chat));
    logger.info({ sipUdp: chat.focus.udpPort, sipTcp: chat.focus.tcpPort, msrp: chat.msrp.port }, 'chat server listening');
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    void relay.drain().then(async () => {
      await chat?.close();
      await sc.close();
      await store.close();
      logger.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  if (process.stdin.isTTY) {
    // Do not echo the password.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stderr.write(s);
    };
  }
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
  rl.close();
  if (process.stdin.isTTY) process.stderr.write('\n');
  return answer;
}

async function users(c: EngineConfig, logger: Logger, args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true,
    options: { realm: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, config: { type: 'string' } },
  });
  const action = positionals[0];
  const realm = values.realm;
  if (realm === undefined || action === undefined) {
    process.stderr.write('usage: msrpd users add|passwd|disable|enable|delete|list --realm R [--user U] [--password P]\n');
    return 2;
  }
  const store = await openStoreFrom(c, logger);
  try {
    if (action === 'list') {
      for (const u of await store.listUsers(realm)) process.stdout.write(`${u.username}\t${u.disabled ? 'disabled' : 'enabled'}\n`);
      return 0;
    }
    const user = values.user;
    if (user === undefined) {
      process.stderr.write(`msrpd users ${action}: --user is required\n`);
      return 2;
    }
    switch (action) {
      case 'add':
      case 'passwd': {
        const password = values.password ?? (await prompt(`password for ${user}@${realm}: `));
        if (password.length === 0) {
          process.stderr.write('empty password refused\n');
          return 2;
        }
        if (action === 'add') {
          if ((await store.getRealm(realm)) === undefined) await store.createRealm(realm);
          await store.createUser(realm, user, password);
        } else {
          await store.setPassword(realm, user, password);
        }
        break;
      }
      case 'disable':
        await store.disableUser(realm, user);
        break;
      case 'enable':
        await store.enableUser(realm, user);
        break;
      case 'delete':
        await store.deleteUser(realm, user);
        break;
      default:
        process.stderr.write(`unknown action ${action}\n`);
        return 2;
    }
    process.stdout.write(`${action}: ${user}@${realm}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: false, allowPositionals: true });
  const file = typeof values.config === 'string' ? values.config : undefined;
  const config = loadEngineConfig({ file, env: process.env });
  const logger = createLogger({ name: 'msrpd', level: config.log.level, pretty: config.log.pretty });
  if (argv[0] === 'users') {
    process.exitCode = await users(config, logger, argv.slice(1));
    return;
  }
  await serve(config, logger);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`msrpd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
