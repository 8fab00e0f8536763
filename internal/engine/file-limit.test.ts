import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FILE_HEADROOM, fileLimitWarning, openFileLimit } from './file-limit.ts';

const limits = (soft: string, hard: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            ${soft}                ${hard}                files     \nMax locked memory         8388608              8388608              bytes     \n`;

describe('open-file limit', () => {
  it('reads soft and hard from /proc/self/limits text, "unlimited" as Infinity', () => {
    assert.deepEqual(openFileLimit(() => limits('1024', '1048576')), { soft: 1024, hard: 1048576 });
    assert.deepEqual(openFileLimit(() => limits('unlimited', 'unlimited')), { soft: Infinity, hard: Infinity });
    assert.equal(openFileLimit(() => undefined), undefined, 'no /proc (not Linux)');
    assert.equal(openFileLimit(() => 'Max cpu time unlimited unlimited seconds\n'), undefined);
  });

  it('reads this process\'s own limit on Linux', { skip: process.platform !== 'linux' ? 'no /proc/self/limits off Linux' : false }, () => {
    const l = openFileLimit();
    assert.ok(l !== undefined && l.soft > 0 && l.hard >= l.soft, JSON.stringify(l));
  });

  it('warns when the limit cannot hold limits.connections plus the engine\'s own files', () => {
    const w = fileLimitWarning({ limits: { connections: 20000 } as never }, { soft: 1024, hard: 1024 });
    assert.ok(w !== undefined);
    assert.match(w.msg, /open-file limit 1024 is below limits\.connections 20000/);
    assert.match(w.msg, new RegExp(`past about ${1024 - FILE_HEADROOM} `));
    assert.deepEqual(w.fields, { openFileLimit: 1024, connectionsLimit: 20000, needed: 20000 + FILE_HEADROOM });
    assert.equal(fileLimitWarning({ limits: { connections: 20000 } as never }, { soft: 20000 + FILE_HEADROOM, hard: 1 << 20 }), undefined);
    assert.equal(fileLimitWarning({ limits: { connections: 0 } as never }, { soft: 1024, hard: 1024 }), undefined, 'no connection limit: nothing to compare');
    assert.equal(fileLimitWarning({ limits: { connections: 20000 } as never }, undefined), undefined);
  });
});
