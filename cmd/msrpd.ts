// msrpd: the engine. Thin wiring only (docs/architecture.md §1.1): config, then startEngine
// (store, relay, the chat server when `chat.enabled`; internal/engine/engine.ts), then signals.
//
//   msrpd [--config FILE]                      run the relay (and the chat server)
//   msrpd users add|passwd --realm R --user U [--password P]   (prompts when --password is absent)
//   msrpd users disable|enable|delete --realm R --user U
//   msrpd users list --realm R
//   msrpd users storage                        password storage mode and counts
//   msrpd users rotate-key                     re-seal passwords under database.secretKeyFile
//   (add/passwd take --password-storage ha1|encrypted to override database.passwordStorage)
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadEngineConfig, type EngineConfig } from '../internal/config/index.ts';
import { workerCount } from '../internal/engine/cpu-limit.ts';
import { fileLimitWarning, openFileLimit } from '../internal/engine/file-limit.ts';
import { reportWorkerState, superviseWorkers, takeWorkerIdentity, workerMetrics } from '../internal/engine/workers.ts';
import { onShutdownSignals } from '../internal/engine/signals.ts';
import { createLogger, type Logger } from '../internal/telemetry/logger.ts';

async function serve(c: EngineConfig, root: Logger, file: string | undefined): Promise<void> {
  // relay.workers: the primary forks the workers and supervises them (docs/relay.md "Workers").
  if (cluster.isPrimary) {
    const { workers, reason } = workerCount(c);
    if (workers > 1) {
      root.info({ workers, reason }, 'starting worker processes');
      const supervisor = await superviseWorkers({
        count: workers, logger: root, http: { host: c.http.host, port: c.http.port },
        nonceSecret: c.auth.nonceSecretFile !== undefined ? readFileSync(c.auth.nonceSecretFile) : randomBytes(32),
        drainDeadlineMs: (c.drain.deadlineSec + 10) * 1000,
        onFatal(err) {
          process.stderr.write(`msrpd: ${err.message}\n`);
          process.exit(1);
        },
      });
      onShutdownSignals(supervisor, root);
      return;
    }
  }
  const worker = takeWorkerIdentity();
  const logger = worker !== undefined ? root.child({ worker: worker.index }) : root;
  // Every MSRP connection is a socket: say so now if the process cannot hold limits.connections of them.
  const files = fileLimitWarning(c, openFileLimit());
  if (files !== undefined) logger.warn(files.fields, files.msg);
  // Loaded here, not by the primary of several workers: it runs no relay, and each process costs its modules' memory.
  const { startEngine } = await import('../internal/engine/engine.ts');
  // The config file is watched: limits, peering, realms and the like apply live (docs/relay.md).
  const engine = await startEngine(c, {
    logger,
    ...(file !== undefined ? { configFile: { file, env: process.env } } : {}),
    ...(worker !== undefined ? { worker, metrics: workerMetrics(worker), nonceSecret: Buffer.from(worker.nonceSecret, 'hex') } : {}),
  });
  const chat = engine.addresses.chat;
  if (chat !== undefined) logger.info({ sipUdp: chat.sipUdp, sipTcp: chat.sipTcp, msrp: chat.msrp }, 'chat server listening');
  onShutdownSignals(worker === undefined ? engine : { drain: () => (reportWorkerState('draining'), engine.drain()) }, logger);
  if (worker !== undefined) reportWorkerState('ready');
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
    options: {
      realm: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, config: { type: 'string' },
      'password-storage': { type: 'string' },
    },
  });
  const action = positionals[0];
  const realm = values.realm;
  const storage = values['password-storage'];
  if (storage !== undefined && storage !== 'ha1' && storage !== 'encrypted') {
    process.stderr.write('--password-storage must be ha1 or encrypted\n');
    return 2;
  }
  const keyed = action === 'storage' || action === 'rotate-key';
  if (action === undefined || (realm === undefined && !keyed)) {
    process.stderr.write('usage: msrpd users add|passwd|disable|enable|delete|list --realm R [--user U] [--password P] [--password-storage ha1|encrypted]\n'
      + '       msrpd users storage|rotate-key\n');
    return 2;
  }
  const { openEngineStore } = await import('../internal/engine/store.ts');
  const store = await openEngineStore(storage !== undefined ? { ...c, database: { ...c.database, passwordStorage: storage } } : c, logger);
  try {
    if (action === 'storage') {
      const info = await store.passwordStorage();
      process.stdout.write(`mode\t${info.mode}\nkey\t${info.keyConfigured ? 'configured' : 'none'}\npreviousKeys\t${info.previousKeys}\n`
        + `usersWithSecret\t${info.usersWithSecret}\nusersWithoutSecret\t${info.usersWithoutSecret}\n`);
      return 0;
    }
    if (action === 'rotate-key') {
      const r = await store.rotateSecretKey();
      process.stdout.write(`reencrypted\t${r.reencrypted}\ncurrent\t${r.current}\nunreadable\t${r.unreadable}\n`);
      return r.unreadable > 0 ? 1 : 0;
    }
    if (realm === undefined) return 2;
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
  await serve(config, logger, file);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`msrpd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
