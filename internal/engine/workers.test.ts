import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendOrFail, takeWorkerIdentity, WORKER_ENV, workerExecArgv } from './workers.ts';

describe('worker identity', () => {
  it('takes a worker identity out of the environment', () => {
    const identity = { index: 1, count: 2, socketDir: '/tmp/x', secret: 'ab'.repeat(16), nonceSecret: 'cd'.repeat(16) };
    const env: NodeJS.ProcessEnv = { [WORKER_ENV]: JSON.stringify(identity) };
    assert.deepEqual(takeWorkerIdentity(env), identity);
    assert.equal(env[WORKER_ENV], undefined);
    assert.equal(takeWorkerIdentity({}), undefined);
  });
  it('names the variable when the identity is malformed, whatever its JSON', () => {
    for (const raw of ['null', '3', '{', '{"index":1}', '[]']) {
      assert.throws(() => takeWorkerIdentity({ [WORKER_ENV]: raw }), { message: `${WORKER_ENV} is malformed` }, raw);
    }
  });
});

describe('worker Node flags', () => {
  it('adds --single-threaded-gc to the primary\'s flags, unless they say otherwise', () => {
    assert.deepEqual(workerExecArgv([]), ['--single-threaded-gc']);
    assert.deepEqual(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps', '--single-threaded-gc']);
    assert.deepEqual(workerExecArgv(['--no-single-threaded-gc']), ['--no-single-threaded-gc'], 'an explicit choice stands');
    assert.deepEqual(workerExecArgv(['--single-threaded-gc']), ['--single-threaded-gc'], 'not twice');
  });
});

describe('asking a worker over IPC', () => {
  it('a worker whose channel has closed is reported to the caller, not thrown at the primary as an unhandled error', async () => {
    // A real child process and IPC channel: the child disconnects at once, as a worker does on its way out.
    const dir = await mkdtemp(join(tmpdir(), 'ipc-'));
    try {
      const file = join(dir, 'child.mjs');
      await writeFile(file, 'process.disconnect(); setTimeout(() => {}, 2000);\n');
      const child = fork(file, [], { stdio: 'ignore' });
      await new Promise<void>((resolve) => child.once('disconnect', () => resolve()));
      let unhandled: unknown;
      child.on('error', (err) => {
        unhandled = err;
      });
      const failed = await new Promise<Error>((resolve) => sendOrFail(child, { msrpdMetrics: 1 }, resolve));
      assert.equal((failed as { code?: string }).code, 'ERR_IPC_CHANNEL_CLOSED');
      assert.equal(unhandled, undefined, 'no error event: the callback had it');
      child.kill();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
