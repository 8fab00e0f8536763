import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDigest, listTree, packLayer } from './layer.ts';

function tree(root: string, touched: number): void {
  mkdirSync(join(root, 'app/cmd'), { recursive: true });
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'app/cmd/b.ts'), 'b');
  writeFileSync(join(root, 'app/cmd/a.ts'), 'a');
  writeFileSync(join(root, 'app/Z'), 'upper case sorts first');
  chmodSync(join(root, 'app/cmd/a.ts'), 0o644);
  for (const p of ['app/cmd/a.ts', 'app/cmd/b.ts', 'app/Z', 'app', 'data']) utimesSync(join(root, p), touched, touched);
}

describe('reproducible layers (scripts/images/layer.ts)', () => {
  it('lists a tree byte-wise sorted, as tar --sort=name does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layer-'));
    try {
      tree(dir, 1_000_000);
      assert.deepEqual(listTree(dir), ['app', 'app/Z', 'app/cmd', 'app/cmd/a.ts', 'app/cmd/b.ts', 'data']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same bytes for the same content whatever the files\' times, with one fixed mtime and owner', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layer-'));
    try {
      tree(join(dir, 'one'), 1_000_000);
      tree(join(dir, 'two'), 2_000_000);
      const spec = { mtime: 1767225600, owned: [{ path: 'data', uid: 65532, gid: 65532 }], createdBy: 'test' };
      const a = await packLayer({ ...spec, dir: join(dir, 'one') }, join(dir, 'a'));
      const b = await packLayer({ ...spec, dir: join(dir, 'two') }, join(dir, 'b'));
      assert.equal(a.digest, b.digest);
      assert.equal(a.diffId, b.diffId);
      assert.equal(a.digest, await fileDigest(join(dir, 'a.tar.gz')));
      const listing = execFileSync('tar', ['-tvzf', join(dir, 'a.tar.gz'), '--numeric-owner'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).trim().split('\n');
      assert.deepEqual(listing.map((l) => l.split(/\s+/).at(-1)), ['app/', 'app/Z', 'app/cmd/', 'app/cmd/a.ts', 'app/cmd/b.ts', 'data/']);
      assert.ok(listing.slice(0, 5).every((l) => l.includes(' 0/0 ') && l.includes('2026-01-01')), listing.join('\n'));
      assert.match(listing[5]!, / 65532\/65532 /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
