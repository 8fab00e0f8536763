import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inSourcesLayer } from './app.ts';
import {
  ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, TARGETS, imageConfig, imageIndex,
  imageManifest, imageReference, imageTag, jsonBlob, sha256, type BuildInfo, type Layer,
} from './oci.ts';

const info: BuildInfo = { version: '0.1.0', commit: '48e610396289375cb74b50535d6c5e3a8a409f42', dirty: false, sourceDateEpoch: 1764979200, source: 'https://github.com/msrp-k8s/msrp-k8s' };
const layer = (n: number): Layer => ({ mediaType: MEDIA_TYPE_LAYER_GZIP, digest: sha256(`gz${n}`), size: 10 + n, diffId: sha256(`tar${n}`), uncompressedSize: 20 + n, createdBy: `layer ${n}` });
const layers = [layer(1), layer(2)];

interface Stage { entrypoint?: string[]; expose: string[]; env: string[]; user?: string; workdir?: string; volume?: string[] }

/** The runtime contract of each Dockerfile stage (instructions of `runtime` are inherited). */
function dockerfileStages(): Map<string, Stage> {
  const stages = new Map<string, Stage>();
  let current: Stage | undefined;
  // Join continuation lines first.
  const lines = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').replace(/\\\n\s*/g, ' ').split('\n');
  for (const line of lines) {
    const from = /^FROM (\S+) AS (\S+)/.exec(line);
    if (from) {
      const base = stages.get(from[1]!);
      current = base ? { ...base, expose: [...base.expose], env: [...base.env] } : { expose: [], env: [] };
      stages.set(from[2]!, current);
      continue;
    }
    if (current === undefined) continue;
    const [instr, ...rest] = line.trim().split(/\s+/);
    const arg = rest.join(' ');
    if (instr === 'ENTRYPOINT') current.entrypoint = JSON.parse(arg) as string[];
    if (instr === 'EXPOSE') current.expose.push(...rest.map((p) => (p.includes('/') ? p : `${p}/tcp`)));
    if (instr === 'ENV') current.env.push(...rest);
    if (instr === 'USER') current.user = arg;
    if (instr === 'WORKDIR') current.workdir = arg;
    if (instr === 'VOLUME') current.volume = JSON.parse(arg) as string[];
  }
  return stages;
}

describe('daemonless images (scripts/images)', () => {
  it('tags an image <version>-<short commit>, and -dirty for a changed work tree', () => {
    assert.equal(imageTag(info), '0.1.0-48e6103');
    assert.equal(imageTag({ ...info, dirty: true }), '0.1.0-48e6103-dirty');
    assert.throws(() => imageTag({ ...info, version: '1.0.0+build' }), /not a valid image tag/);
    assert.equal(imageReference('ghcr.io/msrp-k8s/', TARGETS[0]!, '0.1.0-48e6103'), 'ghcr.io/msrp-k8s/msrpd:0.1.0-48e6103');
  });

  it('gives every target the Dockerfile stage\'s entrypoint, user, environment, working folder, ports and volume', () => {
    const stages = dockerfileStages();
    for (const t of TARGETS) {
      const stage = stages.get(t.target);
      assert.ok(stage, `Dockerfile has a stage ${t.target}`);
      const c = (imageConfig(t, layers, info) as { config: Record<string, unknown> }).config;
      assert.deepEqual(c.Entrypoint, stage.entrypoint, t.target);
      assert.equal(c.User, stage.user, t.target);
      assert.equal(c.WorkingDir, stage.workdir, t.target);
      assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), [...stage.expose].sort(), t.target);
      assert.deepEqual(Object.keys(c.Volumes as object), stage.volume, t.target);
      for (const e of stage.env) assert.ok((c.Env as string[]).includes(e), `${t.target}: ${e}`);
    }
  });

  it('writes configs whose history matches the layers and whose time is the commit time', () => {
    const c = imageConfig(TARGETS[0]!, layers, info) as { created: string; rootfs: { diff_ids: string[] }; history: { empty_layer?: boolean }[] };
    assert.equal(c.created, '2025-12-06T00:00:00Z');
    assert.deepEqual(c.rootfs.diff_ids, layers.map((l) => l.diffId));
    assert.equal(c.history.filter((h) => h.empty_layer !== true).length, layers.length);
  });

  it('is byte-for-byte the same for the same inputs', () => {
    const a = jsonBlob(imageConfig(TARGETS[1]!, layers, info));
    const b = jsonBlob(imageConfig(TARGETS[1]!, layers.map((l) => ({ ...l })), { ...info }));
    assert.equal(sha256(a), sha256(b));
  });

  it('names each manifest in index.json by its full reference for skopeo and for containerd (kind, k3d)', () => {
    const cfg = { mediaType: MEDIA_TYPE_CONFIG, digest: sha256('c'), size: 1 };
    const m = imageManifest(cfg, layers, {}) as { layers: Record<string, unknown>[] };
    // Only descriptor fields go into the manifest; diff ids and sizes unpacked stay in the config and images.json.
    assert.deepEqual(Object.keys(m.layers[0]!), ['mediaType', 'digest', 'size']);
    const index = imageIndex([{ descriptor: { mediaType: 'm', digest: sha256('m'), size: 2 }, reference: 'ghcr.io/msrp-k8s/msrp:0.1.0-48e6103' }]) as { manifests: { annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0]!.annotations[ANNOTATION_REF_NAME], 'ghcr.io/msrp-k8s/msrp:0.1.0-48e6103');
    assert.equal(index.manifests[0]!.annotations[ANNOTATION_CONTAINERD_NAME], 'ghcr.io/msrp-k8s/msrp:0.1.0-48e6103');
  });

  it('puts into the sources layer what .dockerignore lets through', () => {
    assert.ok(inSourcesLayer('package.json'));
    assert.ok(inSourcesLayer('cmd/msrpd.ts'));
    assert.ok(inSourcesLayer('internal/store/migrations/001.sql'));
    assert.ok(!inSourcesLayer('cmd/msrp.test.ts'));
    assert.ok(!inSourcesLayer('internal/msrp/testdata/a.msrp'));
    assert.ok(!inSourcesLayer('internal/operator/README.md'));
    assert.ok(!inSourcesLayer('package-lock.json'));
    assert.ok(!inSourcesLayer('e2e/cluster/cluster.ts'));
  });
});
