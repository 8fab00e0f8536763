import assert from 'node:assert/strict';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { secretVolume, testPki } from './testcerts.ts';
import { loadTlsMaterial, watchTlsMaterial } from './tls-files.ts';

describe('TLS material in the cert-manager layout', () => {
  it('reads tls.crt, tls.key and ca.crt from a directory', async () => {
    const pki = await testPki();
    const m = await loadTlsMaterial(pki.server.dir);
    assert.equal(m.cert, pki.server.cert);
    assert.equal(m.ca, pki.caPem);
  });

  it('refuses a key that does not match the certificate', async () => {
    const pki = await testPki();
    const dir = await mkdtemp(join(tmpdir(), 'msrp-tls-bad-'));
    await copyFile(join(pki.server.dir, 'tls.crt'), join(dir, 'tls.crt'));
    await copyFile(join(pki.peer.dir, 'tls.key'), join(dir, 'tls.key'));
    await assert.rejects(loadTlsMaterial(dir));
  });

  it('follows a ..data symlink swap and keeps the old material when an update is broken', async () => {
    const pki = await testPki();
    const vol = await secretVolume(pki.server);
    const reloads: string[] = [];
    const errors: Error[] = [];
    const w = await watchTlsMaterial({ dir: vol.dir, pollIntervalMs: 60_000, onReload: (m) => reloads.push(m.cert), onError: (e) => errors.push(e) });
    try {
      await vol.swap(pki.serverRotated);
      assert.equal(await w.check(), true);
      assert.equal(w.current.cert, pki.serverRotated.cert);
      await writeFile(join(vol.dir, '..data', 'tls.key'), 'not a key');
      assert.equal(await w.check(), false);
      assert.equal(w.current.cert, pki.serverRotated.cert);
      assert.equal(errors.length, 1);
      assert.deepEqual(reloads, [pki.serverRotated.cert]);
    } finally {
      w.close();
    }
  });
});
