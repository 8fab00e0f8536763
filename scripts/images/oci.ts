// The OCI image documents of the daemonless build (scripts/images/build.ts), as pure functions:
// image config, image manifest, image index, and the tag. No I/O here, so the image contract
// (entrypoints, user, environment, ports — the same as the Dockerfile's) is unit-tested
// without any container tool.
//
// OCI image spec v1.1: image-layout.md, manifest.md, config.md, annotations.md.
import { createHash } from 'node:crypto';

export const MEDIA_TYPE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** annotations.md: the name of a manifest inside an image layout. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's import (`ctr images import`, hence `kind load image-archive` and `k3d image import`) names images from it. */
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

/** The uid/gid every image runs as (the Dockerfile's `USER 65532:65532`, distroless' "nonroot"). */
export const RUN_AS = 65532;

export interface Target {
  /** Name of the Dockerfile stage and of the npm-run entry (`cmd/<cmd>.ts`). */
  readonly target: 'msrpd' | 'admin' | 'operator' | 'msrp';
  /** Repository name under the registry prefix (the chart's and the operator's defaults). */
  readonly repository: string;
  readonly cmd: string;
  /** The Dockerfile's EXPOSE lines, as OCI `port/proto` keys. */
  readonly ports: readonly string[];
  readonly description: string;
}

// Same order, names, entrypoints and ports as the Dockerfile's stages.
export const TARGETS: readonly Target[] = [
  { target: 'msrpd', repository: 'msrpd', cmd: 'msrpd', ports: ['2855/tcp', '5060/tcp', '5060/udp', '5061/tcp'], description: 'MSRP relay (RFC 4976) and chat focus (RFC 7701); also runs the admin sidecar' },
  { target: 'admin', repository: 'msrp-admin', cmd: 'admin', ports: ['8443/tcp'], description: 'msrp-k8s admin API (Fastify)' },
  { target: 'operator', repository: 'msrp-operator', cmd: 'operator', ports: ['8080/tcp', '8081/tcp'], description: 'msrp-k8s Kubernetes operator' },
  { target: 'msrp', repository: 'msrp', cmd: 'msrp', ports: [], description: 'msrp command-line client' },
];

export const DEFAULT_REGISTRY_PREFIX = 'ghcr.io/msrp-k8s';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A layer as written into the layout: `digest`/`size` of the compressed blob, `diffId` of the tar. */
export interface Layer extends Descriptor {
  diffId: string;
  /** Bytes of the uncompressed tar (what the layer takes once unpacked, about). */
  uncompressedSize: number;
  /** One line for the image history ("created_by"). */
  createdBy: string;
}

export interface BuildInfo {
  version: string;
  commit: string;
  dirty: boolean;
  /** Seconds since the epoch: the git commit time (SOURCE_DATE_EPOCH). */
  sourceDateEpoch: number;
  source: string;
}

export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * `<package version>-<short commit>`, with `-dirty` when the work tree had changes. A tag is at
 * most 128 characters of [A-Za-z0-9_.-] (distribution spec), which this always is for a semver.
 */
export function imageTag(b: Pick<BuildInfo, 'version' | 'commit' | 'dirty'>): string {
  const tag = `${b.version}-${b.commit.slice(0, 7)}${b.dirty ? '-dirty' : ''}`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`not a valid image tag: ${tag}`);
  return tag;
}

export function imageReference(prefix: string, t: Target, tag: string): string {
  return `${prefix.replace(/\/+$/, '')}/${t.repository}:${tag}`;
}

function isoTime(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
}

/** The OCI image config: the runtime contract of one target (mirrors the Dockerfile). */
export function imageConfig(t: Target, layers: readonly Layer[], b: BuildInfo): Record<string, unknown> {
  const created = isoTime(b.sourceDateEpoch);
  const config: Record<string, unknown> = {
    User: `${RUN_AS}:${RUN_AS}`,
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', 'HOME=/tmp', 'MSRP_DATA_DIR=/data'],
    Entrypoint: ['node', `cmd/${t.cmd}.ts`],
    WorkingDir: '/app',
    Volumes: { '/data': {} },
    Labels: imageLabels(t, b),
  };
  if (t.ports.length > 0) config.ExposedPorts = Object.fromEntries(t.ports.map((p) => [p, {}]));
  return {
    created,
    architecture: 'amd64',
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      ...layers.map((l) => ({ created, created_by: l.createdBy })),
      { created, created_by: `config: target ${t.target}`, empty_layer: true },
    ],
  };
}

/** annotations.md pre-defined keys, used both as config labels and manifest annotations. */
export function imageLabels(t: Target, b: BuildInfo): Record<string, string> {
  return {
    'org.opencontainers.image.created': isoTime(b.sourceDateEpoch),
    'org.opencontainers.image.description': t.description,
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.revision': b.commit,
    'org.opencontainers.image.source': b.source,
    'org.opencontainers.image.title': t.repository,
    'org.opencontainers.image.version': b.version,
  };
}

export function imageManifest(config: Descriptor, layers: readonly Layer[], annotations: Record<string, string>): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations,
  };
}

/** image-layout.md `index.json`: one entry per image, named by its full reference. */
export function imageIndex(manifests: readonly { descriptor: Descriptor; reference: string }[]): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests: manifests.map((m) => ({
      mediaType: m.descriptor.mediaType,
      digest: m.descriptor.digest,
      size: m.descriptor.size,
      annotations: { [ANNOTATION_CONTAINERD_NAME]: m.reference, [ANNOTATION_REF_NAME]: m.reference },
    })),
  };
}

/** A JSON document as stored in a blob: compact, key order as built, so digests are stable. */
export function jsonBlob(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}
