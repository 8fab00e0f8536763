import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeWorkerIdentity, WORKER_ENV, workerExecArgv } from './workers.ts';

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
