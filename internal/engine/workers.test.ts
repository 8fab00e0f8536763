import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeWorkerIdentity, WORKER_ENV } from './workers.ts';

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
