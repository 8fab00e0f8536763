// A throwaway PostgreSQL server of a test's own (e2e/postgres/start.sh), for tests that stop
// and restart the database under a running service: stopping it disturbs nobody else.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';

export const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const START = join(import.meta.dirname, 'start.sh');

/**
 * The reason to skip when PostgreSQL's binaries are absent on a developer's machine, or
 * false. Under CI=true a missing binary registers a failing test instead (never a skip).
 */
export function throwawayPostgresSkip(): string | false {
  if (existsSync(join(PG_BIN, 'initdb'))) return false;
  if (process.env['CI'] === 'true') {
    it('has PostgreSQL binaries under CI', () => assert.fail(`CI=true but ${PG_BIN}/initdb is missing`));
  }
  return `no ${PG_BIN}/initdb: install PostgreSQL 15 (apt-get install postgresql) to run the outage test`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export interface ThrowawayPostgres {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the postmaster (SIGINT, fast shutdown) and waits until the port is closed. */
  stop(): Promise<void>;
  /** Starts the same cluster again on the same port and data folder. */
  restart(): void;
  /** Stops it if running and removes its folder. */
  remove(): Promise<void>;
}

export function startThrowawayPostgres(): ThrowawayPostgres {
  const r = spawnSync('bash', [START], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const url = r.stdout.trim();
  const dir = /dir (\S+)/.exec(r.stderr)![1]!;
  const port = Number(new URL(url).port);
  // The postmaster's own pid file: start.sh's postgres.pid is stale after a restart.
  const postmasterPid = (): number => Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const stop = async (): Promise<void> => {
    try {
      process.kill(postmasterPid(), 'SIGINT');
    } catch {
      // already stopped
    }
    for (let i = 0; i < 100 && (await portOpen(port)); i++) await sleep(100);
  };
  return {
    url, port, dir, stop,
    restart(): void {
      const args = ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o',
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${join(dir, 'sock')} -c fsync=off`, 'start'];
      const pgCtl = join(PG_BIN, 'pg_ctl');
      // initdb and pg_ctl refuse root: run them as the postgres user, as start.sh does.
      if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
      else execFileSync(pgCtl, args, { stdio: 'ignore' });
    },
    async remove(): Promise<void> {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
