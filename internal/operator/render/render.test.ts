import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadAdminConfig } from '../../config/admin.ts';
import { loadEngineConfig } from '../../config/engine.ts';
import { parseMsrpUri, type MsrpUri } from '../../msrp/uri.ts';
import { relayOptionsFromConfig } from '../../relay/engine-options.ts';
import { NextHops } from '../../relay/next-hops.ts';
import { renderCertificate, renderServiceMonitor } from './certificate.ts';
import { CONFIG_HASH_ANNOTATION, DATABASE_SECRET_HASH_ANNOTATION, ownerReference, selectorString, tlsSecretName } from './common.ts';
import { ADMIN_CONFIG_KEY, CONFIG_KEY, configHash, nextHopRule, renderConfigMap, renderEngineConfig, websocketOrigins } from './config.ts';
import { relayFixture } from './testfixtures.ts';
import { renderRelay } from './index.ts';
import { renderNetworkPolicy, renderPodDisruptionBudget } from './policy.ts';
import { withRelayImage } from '../relay-controller.ts';
import { parseQuantity, quantityToBytes } from './quantity.ts';
import { renderAdminService, renderMeshService, renderPublicService } from './services.ts';
import { engineCommand, renderAffinity, renderServiceAccount, renderStatefulSet } from './statefulset.ts';

const OWNER = {
  apiVersion: 'msrp.dev/v1alpha1',
  kind: 'MsrpRelay',
  name: 'relay',
  uid: '0b6f3c1e-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};

/** Loads a rendered config the way the engine does: file plus environment. */
function loadRendered(yamlText: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'msrp-render-'));
  try {
    const file = join(dir, CONFIG_KEY);
    writeFileSync(file, yamlText);
    return loadEngineConfig({ file, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads the rendered admin config the way cmd/admin.ts does. */
function loadRenderedAdmin(yamlText: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'msrp-render-'));
  try {
    const file = join(dir, ADMIN_CONFIG_KEY);
    writeFileSync(file, yamlText);
    return loadAdminConfig({ file, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('quantities', () => {
  it('parses binary, decimal and exponent suffixes', () => {
    assert.equal(parseQuantity('2Mi'), 2 * 1024 * 1024);
    assert.equal(parseQuantity('1Gi'), 2 ** 30);
    assert.equal(parseQuantity('1.5k'), 1500);
    assert.equal(parseQuantity('1e6'), 1_000_000);
    assert.equal(parseQuantity(4096), 4096);
    assert.equal(quantityToBytes('500m'), 1, 'a positive rate never rounds down to 0 (= unlimited)');
    assert.throws(() => parseQuantity('2 MB'));
  });
});

describe('engine ConfigMap', () => {
  it('is a valid engine config for the defaults, loaded as msrpd loads it', () => {
    const cm = renderConfigMap(relayFixture());
    assert.equal(cm.metadata?.name, 'relay-config');
    assert.equal(cm.metadata?.namespace, 'chat');
    assert.deepEqual(cm.metadata?.ownerReferences, [OWNER]);
    const c = loadRendered(cm.data![CONFIG_KEY]!);
    assert.deepEqual(c.relay.listen, [{ host: '0.0.0.0', port: 2855, transport: 'tls' }]);
    assert.equal(c.relay.publicHost, 'msrp.example.com');
    assert.equal(c.tls.dir, '/etc/msrp/tls');
    assert.equal(c.database.url, undefined);
    assert.equal(c.database.dataDir, '/data/pglite');
    assert.equal(c.http.port, 9090);
  });

  it('carries every mapped spec field, and the database URL comes from MSRP_DATABASE__URL', () => {
    const r = relayFixture({
      replicas: 3,
      database: { secretRef: { name: 'db', key: 'url' } },
      ports: { msrpTls: 2855, msrpTcp: 2856 },
      realms: [{ name: 'example.net' }, { name: 'partners.example.org', hosts: ['partners.example.org'] }],
      limits: { sessionsPerUser: 16, minExpires: 600, maxExpires: 7200, transactionTimeoutSeconds: 12 },
      throttling: { bytesPerSecondPerSession: '2Mi', bytesPerSecondPerRealm: '1G' },
      drain: { timeoutSeconds: 120 },
    });
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!, { MSRP_DATABASE__URL: 'postgres://u:p@db:5432/msrp' });
    assert.deepEqual(c.relay.listen, [
      { host: '0.0.0.0', port: 2855, transport: 'tls' },
      { host: '0.0.0.0', port: 2856, transport: 'tcp' },
    ]);
    assert.deepEqual(c.auth.realms, [
      { name: 'example.net', hosts: [] },
      { name: 'partners.example.org', hosts: ['partners.example.org'] },
    ]);
    assert.deepEqual(c.session, { minExpires: 600, maxExpires: 7200, defaultExpires: 3600 });
    assert.equal(c.limits.sessionsPerUser, 16);
    assert.equal(c.limits.transactionTimeoutSec, 12);
    assert.deepEqual(c.throttle, { bytesPerSecPerSession: 2097152, bytesPerSecPerUser: 0, bytesPerSecPerRealm: 1e9 });
    assert.equal(c.drain.deadlineSec, 120);
    assert.equal(c.database.url, 'postgres://u:p@db:5432/msrp');
  });

  it('names the relay by its Service DNS names, and by the pod IP from the environment', () => {
    const r = relayFixture();
    const sts = renderStatefulSet(r, 'h');
    const engineEnv = sts.spec!.template.spec!.containers[0]!.env!;
    assert.deepEqual(engineEnv.slice(0, 2), [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'MSRP_RELAY__ALIASES__2', value: '$(POD_IP)' },
    ]);
    // What the kubelet hands the engine after $(POD_IP) expansion.
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!, { POD_IP: '10.1.2.3', MSRP_RELAY__ALIASES__2: '10.1.2.3' });
    assert.deepEqual(c.relay.aliases, ['relay.chat.svc', 'relay.chat.svc.cluster.local', '10.1.2.3']);
  });

  it('tells each replica its ordinal from the StatefulSet pod-index label, which the engine takes for the mesh', () => {
    const r = relayFixture({ replicas: 3 });
    const engineEnv = renderStatefulSet(r, 'h').spec!.template.spec!.containers[0]!.env!;
    assert.deepEqual(engineEnv.find((e) => e.name === 'MSRP_MESH__ORDINAL'), {
      name: 'MSRP_MESH__ORDINAL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
    });
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!, { MSRP_MESH__ORDINAL: '2' });
    assert.equal(c.mesh.ordinal, 2);
    assert.equal(c.mesh.enabled, true);
  });

  it('holds a valid admin sidecar config next to it, loaded as cmd/admin.ts loads it', () => {
    const cm = renderConfigMap(relayFixture());
    const a = loadRenderedAdmin(cm.data![ADMIN_CONFIG_KEY]!, { MSRP_ADMIN_DATABASE__URL: 'postgres://u:p@db:5432/msrp' });
    assert.deepEqual(a.http, {
      host: '0.0.0.0', port: 8080, bodyLimitBytes: 65536,
      tls: { certFile: '/etc/msrp/admin-tls/tls.crt', keyFile: '/etc/msrp/admin-tls/tls.key' },
    }, 'HTTPS with the operator-issued admin certificate');
    assert.equal(a.engine.controlUrl, 'http://127.0.0.1:9091', 'the engine control port of the same pod');
    assert.equal(a.auth.bootstrapTokenFile, '/etc/msrp/admin-token/token');
    assert.equal(a.database.url, 'postgres://u:p@db:5432/msrp');
    assert.equal(a.database.dataDir, '/data/pglite');
    assert.throws(() => loadRenderedAdmin(cm.data![CONFIG_KEY]!), /: is not a known setting/, 'the engine file is not an admin config (the render used to pass it)');
  });

  it('keeps the default AUTH lifetime inside a narrow [minExpires, maxExpires]', () => {
    const low = renderEngineConfig(relayFixture({ limits: { minExpires: 60, maxExpires: 600 } }));
    assert.equal(low.session?.defaultExpires, 600);
    const high = renderEngineConfig(relayFixture({ limits: { minExpires: 7200, maxExpires: 9000 } }));
    assert.equal(high.session?.defaultExpires, 7200);
    loadRendered(renderConfigMap(relayFixture({ limits: { minExpires: 7200, maxExpires: 9000 } })).data![CONFIG_KEY]!);
  });

  it('renders relay.workers auto: a pod runs as many worker processes as its relay container\'s CPU limit (one with the chat server)', () => {
    const r = relayFixture({ resources: { limits: { cpu: '2' } } });
    assert.equal(renderEngineConfig(r).relay?.workers, 'auto');
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.equal(c.relay.workers, 'auto', 'the engine loads it (and resolves it from its cgroup at start)');
  });

  it('runs the engine with the garbage collector on its main thread when its CPU limit is one core or less', () => {
    assert.deepEqual(engineCommand(relayFixture()), ['node', 'cmd/msrpd.ts'], 'no limit: V8\'s GC threads may use idle cores');
    assert.deepEqual(engineCommand(relayFixture({ resources: { limits: { cpu: '2' } } })), ['node', 'cmd/msrpd.ts'], 'two cores: two workers, which take the flag from the primary');
    for (const cpu of ['1', '500m', '1000m', 0.5]) {
      assert.deepEqual(engineCommand(relayFixture({ resources: { limits: { cpu } } })), ['node', '--single-threaded-gc', 'cmd/msrpd.ts'], String(cpu));
    }
    assert.deepEqual(engineCommand(relayFixture({ resources: { limits: { cpu: '1001m' } } })), ['node', 'cmd/msrpd.ts']);
  });

  it('without spec.peering renders no next-hop policy: the engine defaults forward to nothing but our own sessions', () => {
    const r = relayFixture();
    const rendered = renderEngineConfig(r);
    assert.equal('nextHops' in rendered, false, 'nothing new in the ConfigMap, so existing relays do not roll');
    assert.deepEqual(rendered.tls, { dir: '/etc/msrp/tls' });
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.deepEqual(c.nextHops, { allow: [], allowPrivate: false, connectTimeoutMs: 5000, dnsServers: [] });
    assert.equal(c.tls.mutual, true);
    assert.equal(c.tls.peerCertificates, 'require');
  });

  it('renders spec.peering into nextHops and tls exactly, and the engine loads it', () => {
    const r = relayFixture({
      peering: {
        allow: ['relay.partner.example.org', '*.example.net:2855', '10.0.0.7', '[fd00::7]:2856', 'relay-b.msrp.svc.cluster.local:2855'],
        peerCertificates: 'verify-if-presented',
        allowPrivateAddresses: true,
        dnsServers: ['10.96.0.10', '10.0.0.10:5353', '[fd00::a]:53'],
      },
    });
    const rendered = renderEngineConfig(r);
    assert.deepEqual(rendered.nextHops, {
      allow: [
        { host: 'relay.partner.example.org' },
        { host: '*.example.net', port: 2855 },
        { host: '10.0.0.7' },
        { host: 'fd00::7', port: 2856 },
        { host: 'relay-b.msrp.svc.cluster.local', port: 2855 },
      ],
      allowPrivate: true,
      dnsServers: ['10.96.0.10', '10.0.0.10:5353', '[fd00::a]:53'],
    });
    assert.deepEqual(rendered.tls, { dir: '/etc/msrp/tls', mutual: true, peerCertificates: 'verify-if-presented' });
    // loadEngineConfig is msrpd's own check: the schema, then the cross-field rules.
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.deepEqual(c.nextHops, { ...rendered.nextHops, connectTimeoutMs: 5000 });
    assert.equal(c.tls.mutual, true);
    assert.equal(c.tls.peerCertificates, 'verify-if-presented');
  });

  it('a peered relay may dial exactly its peers, as the engine decides it (next-hops.ts)', () => {
    const r = relayFixture({ peering: { allow: ['relay.partner.example.org', '*.example.net:2855', '[fd00::7]:2856'] } });
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.equal(c.tls.peerCertificates, 'require', 'the default');
    assert.equal(c.nextHops.allowPrivate, false, 'the default');
    const options = relayOptionsFromConfig(c, { hostname: 'relay-0', nonceSecret: Buffer.alloc(32) });
    const hops = new NextHops({ options, tls: () => undefined, adopt: () => assert.fail('no connection'), log: undefined as never });
    const uri = (s: string) => (parseMsrpUri(s) as { ok: true; uri: MsrpUri }).uri;
    const allowed = ['msrps://relay.partner.example.org/s1;tcp', 'msrps://relay.partner.example.org:443/s1;tcp', 'msrps://a.example.net:2855/s1;tcp', 'msrps://[fd00::7]:2856/s1;tcp'];
    const refused = ['msrps://evil.example.org/s1;tcp', 'msrps://a.example.net:2856/s1;tcp', 'msrps://example.net:2855/s1;tcp', 'msrps://[fd00::7]:2855/s1;tcp'];
    for (const u of allowed) assert.equal(hops.allowed(uri(u)), true, u);
    for (const u of refused) assert.equal(hops.allowed(uri(u)), false, u);
  });

  it('an empty peering object is the engine defaults with mutual TLS said explicitly', () => {
    const c = loadRendered(renderConfigMap(relayFixture({ peering: {} })).data![CONFIG_KEY]!);
    assert.deepEqual(c.nextHops, { allow: [], allowPrivate: false, connectTimeoutMs: 5000, dnsServers: [] });
    assert.deepEqual([c.tls.mutual, c.tls.peerCertificates], [true, 'require']);
  });

  it('reads a peer host[:port] as a nextHops.allow rule', () => {
    assert.deepEqual(nextHopRule('relay.example.com'), { host: 'relay.example.com' });
    assert.deepEqual(nextHopRule('*'), { host: '*' });
    assert.deepEqual(nextHopRule('*:2855'), { host: '*', port: 2855 });
    assert.deepEqual(nextHopRule('[fd00::7]'), { host: 'fd00::7' });
    assert.deepEqual(nextHopRule('[::1]:65535'), { host: '::1', port: 65535 });
    assert.throws(() => nextHopRule('fd00::7'), /not host\[:port\]/);
  });

  it('renders deterministically (sorted keys), so the hash only moves when the config does', () => {
    const a = renderConfigMap(relayFixture());
    const b = renderConfigMap(relayFixture());
    assert.equal(a.data![CONFIG_KEY], b.data![CONFIG_KEY]);
    assert.equal(configHash(a), configHash(b));
    assert.deepEqual(Object.keys(parse(a.data![CONFIG_KEY]!) as object), [...Object.keys(parse(a.data![CONFIG_KEY]!) as object)].sort());
  });
});

describe('StatefulSet', () => {
  const hash = 'abc123';

  it('the relay image: the spec\'s, else the operator\'s default (withRelayImage), and the spec\'s pull secrets', () => {
    const pinned = renderStatefulSet(relayFixture({ image: { repository: 'reg.example/msrpd', tag: '2.0.0' }, imagePullSecrets: [{ name: 'regcred' }] }), hash).spec!.template.spec!;
    assert.deepEqual(pinned.containers.map((c) => c.image), ['reg.example/msrpd:2.0.0', 'reg.example/msrpd:2.0.0']);
    assert.deepEqual(pinned.imagePullSecrets, [{ name: 'regcred' }]);
    const fromOperator = renderStatefulSet(withRelayImage(relayFixture({ image: { tag: '2.1.0' } }), { repository: 'op.example/msrpd', tag: '9.9.9' }), hash).spec!.template.spec!;
    assert.equal(fromOperator.containers[0]!.image, 'op.example/msrpd:2.1.0', 'a pinned tag stays, the repository comes from the operator');
    const bare = renderStatefulSet(relayFixture(), hash).spec!.template.spec!;
    assert.equal(bare.containers[0]!.image, 'ghcr.io/msrp-k8s/msrpd:0.1.0');
    assert.equal(bare.imagePullSecrets, undefined);
  });

  it('runs the engine and the admin sidecar from the relay image, hardened', () => {
    const sts = renderStatefulSet(relayFixture(), hash);
    assert.equal(sts.metadata?.name, 'relay');
    assert.deepEqual(sts.metadata?.ownerReferences, [OWNER]);
    const spec = sts.spec!;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.serviceName, 'relay-mesh');
    assert.deepEqual(spec.selector.matchLabels, { 'app.kubernetes.io/name': 'msrp-relay', 'app.kubernetes.io/instance': 'relay' });
    const pod = spec.template.spec!;
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'relay');
    assert.equal(pod.terminationGracePeriodSeconds, 5 + 600 + 15);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [engine, admin] = pod.containers;
    assert.equal(engine?.name, 'engine');
    assert.equal(engine.image, 'ghcr.io/msrp-k8s/msrpd:0.1.0');
    assert.deepEqual(engine.command, ['node', 'cmd/msrpd.ts']);
    assert.deepEqual(engine.args, ['--config', '/etc/msrp/config/msrpd.yaml']);
    assert.equal(admin?.name, 'admin');
    assert.equal(admin.image, engine.image);
    assert.deepEqual(admin.command, ['node', 'cmd/admin.ts']);
    assert.deepEqual(admin.args, ['--config', '/etc/msrp/config/admin.yaml']);
    assert.deepEqual(admin.readinessProbe?.httpGet, { path: '/healthz', port: 'admin', scheme: 'HTTPS' }, 'a database outage must not unready the relay pod');
    assert.deepEqual(admin.livenessProbe?.httpGet, { path: '/healthz', port: 'admin', scheme: 'HTTPS' });
    assert.deepEqual(admin.volumeMounts?.find((m) => m.name === 'admin-tls'), { name: 'admin-tls', mountPath: '/etc/msrp/admin-tls', readOnly: true });
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'admin-tls')?.secret, { secretName: 'relay-admin-tls', defaultMode: 0o440 });
    assert.equal(engine.volumeMounts?.some((m) => m.name === 'admin-tls'), false, 'the engine does not need the admin key');
    assert.deepEqual(admin.volumeMounts?.find((m) => m.name === 'admin-token'), { name: 'admin-token', mountPath: '/etc/msrp/admin-token', readOnly: true });
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'admin-token')?.secret, { secretName: 'relay-admin-token', defaultMode: 0o440 });
    assert.equal(engine.volumeMounts?.some((m) => m.name === 'admin-token'), false, 'the engine never sees the admin token');
    for (const c of [engine, admin]) {
      assert.deepEqual(c.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.ok(c.volumeMounts?.some((m) => m.name === 'tmp' && m.mountPath === '/tmp'), `${c.name} has a writable /tmp`);
    }
    assert.deepEqual(engine.readinessProbe?.httpGet, { path: '/readyz', port: 'http' });
    assert.deepEqual(engine.livenessProbe?.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(
      engine.ports?.map((p) => [p.name, p.containerPort, p.protocol]),
      [['msrps', 2855, 'TCP'], ['sip-tcp', 5060, 'TCP'], ['sip-tls', 5061, 'TCP'], ['msrp-chat', 2857, 'TCP'], ['http', 9090, 'TCP'], ['mesh', 2858, 'TCP'], ['mesh-chat', 2859, 'TCP']],
    );
    assert.deepEqual(engine.volumeMounts?.find((m) => m.name === 'mesh-tls'), { name: 'mesh-tls', mountPath: '/etc/msrp/mesh-tls', readOnly: true });
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'mesh-tls')?.secret, { secretName: 'relay-mesh-tls', defaultMode: 0o440 });
    assert.equal(admin.volumeMounts?.some((m) => m.name === 'mesh-tls'), false, 'the admin sidecar never sees the mesh key');
    assert.deepEqual(engine.volumeMounts?.find((m) => m.name === 'tls'), { name: 'tls', mountPath: '/etc/msrp/tls', readOnly: true });
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'tls')?.secret, { secretName: 'relay-tls', defaultMode: 0o440 });
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir, { sizeLimit: '64Mi' });
    assert.equal(spec.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION], hash);
  });

  it('the database URL from the secretKeyRef under each container\'s config prefix, an emptyDir data volume, no PVC', () => {
    const r = relayFixture({ replicas: 3, database: { secretRef: { name: 'relay-db', key: 'dsn' } } });
    const sts = renderStatefulSet(r, hash);
    assert.equal(sts.spec?.replicas, 3);
    assert.deepEqual(sts.spec?.volumeClaimTemplates, []);
    const [engine, admin] = sts.spec.template.spec!.containers;
    const ref = { secretKeyRef: { name: 'relay-db', key: 'dsn' } };
    // internal/config: the engine reads MSRP_<SECTION>__<KEY>, the admin MSRP_ADMIN_<SECTION>__<KEY>.
    assert.deepEqual(engine?.env?.filter((e) => e.name.includes('DATABASE')), [{ name: 'MSRP_DATABASE__URL', valueFrom: ref }]);
    assert.deepEqual(admin?.env, [{ name: 'MSRP_ADMIN_DATABASE__URL', valueFrom: ref }]);
    assert.ok(sts.spec?.template.spec?.volumes?.some((v) => v.name === 'data' && v.emptyDir));
  });

  it('grace period is the drain deadline plus a margin', () => {
    const sts = renderStatefulSet(relayFixture({ drain: { timeoutSeconds: 120 } }), hash);
    // preStop pause + drain + margin, so the kubelet never kills a replica still serving within its drain.
    assert.equal(sts.spec?.template.spec?.terminationGracePeriodSeconds, 5 + 120 + 15);
    assert.deepEqual(sts.spec?.template.spec?.containers[0]?.lifecycle, { preStop: { sleep: { seconds: 5 } } });
    assert.equal(sts.spec?.minReadySeconds, 10);
    assert.equal(renderStatefulSet(relayFixture(), hash).spec?.template.spec?.terminationGracePeriodSeconds, 5 + 600 + 15);
  });

  it('spreads replicas over nodes by default and merges the user scheduling', () => {
    const def = renderAffinity(relayFixture());
    assert.deepEqual(def.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    const nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['msrp'] }] }] } };
    const r = relayFixture({
      scheduling: {
        affinity: { nodeAffinity },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'dedicated', operator: 'Exists' }],
        priorityClassName: 'high',
      },
    });
    const pod = renderStatefulSet(r, hash).spec!.template.spec!;
    assert.deepEqual(pod.affinity?.nodeAffinity, nodeAffinity, 'user node affinity kept');
    assert.ok(pod.affinity?.podAntiAffinity, 'default anti-affinity added');
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.deepEqual(pod.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
    assert.equal(pod.priorityClassName, 'high');
    const own = { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone', labelSelector: {} }] };
    assert.deepEqual(renderAffinity(relayFixture({ scheduling: { affinity: { podAntiAffinity: own } } })).podAntiAffinity, own, 'user anti-affinity wins');
  });

  it('allows ports below 1024 for the non-root user with the safe sysctl only when needed', () => {
    assert.equal(renderStatefulSet(relayFixture(), hash).spec?.template.spec?.securityContext?.sysctls, undefined);
    const low = renderStatefulSet(relayFixture({ ports: { msrpTls: 443 } }), hash);
    assert.deepEqual(low.spec?.template.spec?.securityContext?.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    // It follows the ports the engine listens on (publicPorts): the chat switch's port counts
    // when chat runs, and the SIP ports of a relay without chat do not.
    const chatLow = renderStatefulSet(relayFixture({ ports: { msrpChat: 853 }, chat: { enabled: true } }), hash);
    assert.deepEqual(chatLow.spec?.template.spec?.securityContext?.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    const noChat = renderStatefulSet(relayFixture({ ports: { sipTls: 443, sipWss: 444 }, chat: { enabled: false } }), hash);
    assert.equal(noChat.spec?.template.spec?.securityContext?.sysctls, undefined);
  });

  it('only a change that needs a restart rolls the pods: live settings, replicas and certificate rotations leave the template alone', () => {
    const tpl = (r: ReturnType<typeof relayFixture>, inputs = {}) => {
      const rendered = renderRelay(r, { certManager: false, serviceMonitor: false }, inputs);
      const sts = rendered.apply.find((d) => d.object.kind === 'StatefulSet')!.object as ReturnType<typeof renderStatefulSet>;
      const cm = rendered.apply.find((d) => d.object.kind === 'ConfigMap')!.object as ReturnType<typeof renderConfigMap>;
      return { template: sts.spec!.template, engineConfig: cm.data![CONFIG_KEY] };
    };
    const hashOf = (t: ReturnType<typeof tpl>) => t.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const t0 = tpl(relayFixture());
    assert.deepEqual(tpl(relayFixture({ replicas: 0 })).template, t0.template);
    // A rotated certificate changes the Secret's data, which nothing rendered depends on.
    assert.deepEqual(tpl(relayFixture()).template, t0.template);
    // Applied live by the engine from the updated ConfigMap (internal/config/live.ts): the ConfigMap changes, the template does not.
    const live = [
      relayFixture({ limits: { sessionsPerUser: 5 } }),
      relayFixture({ limits: { connectionsPerSource: 7, maxHeaderBytes: 8192, transactionTimeoutSeconds: 10, minExpires: 120, maxExpires: 7200 } }),
      relayFixture({ peering: { allow: ['relay.partner.example.org'] } }),
      relayFixture({ peering: { allow: ['*'], allowPrivateAddresses: true, dnsServers: ['10.0.0.10'], peerCertificates: 'verify-if-presented' } }),
      relayFixture({ realms: [{ name: 'example.com', hosts: ['msrp.example.com'] }] }),
      relayFixture({ throttling: { bytesPerSecondPerUser: '1Mi' } }),
    ];
    for (const r of live) {
      const t = tpl(r);
      assert.notEqual(t.engineConfig, t0.engineConfig, 'the ConfigMap carries the change');
      assert.deepEqual(t.template, t0.template, `no roll for ${JSON.stringify(r.spec.limits)} ${JSON.stringify(r.spec.peering)} ${JSON.stringify(r.spec.realms)}`);
    }
    // Read at start only: a port, the public host, the chat server.
    for (const r of [relayFixture({ ports: { msrpTls: 3855 } }), relayFixture({ publicHost: 'other.example.com' }), relayFixture({ chat: { enabled: false } })]) {
      assert.notEqual(hashOf(tpl(r)), hashOf(t0), `rolls for ${JSON.stringify(r.spec.ports)} ${r.spec.publicHost}`);
    }
    // The database URL is an environment variable: a rotated one rolls the pods, its value never shows.
    const db1 = tpl(relayFixture(), { databaseSecretHash: 'aaaa' }).template;
    const db2 = tpl(relayFixture(), { databaseSecretHash: 'bbbb' }).template;
    assert.equal(db1.metadata?.annotations?.[DATABASE_SECRET_HASH_ANNOTATION], 'aaaa');
    assert.notDeepEqual(db1, db2);
    assert.equal(hashOf({ template: db1, engineConfig: '' }), hashOf(t0), 'the config hash is not the database one');
  });

  it('the ServiceAccount mounts no API token', () => {
    const sa = renderServiceAccount(relayFixture());
    assert.equal(sa.automountServiceAccountToken, false);
    assert.deepEqual(sa.metadata?.ownerReferences, [OWNER]);
  });
});

describe('MSRP over WebSocket (ports.msrpWss, RFC 7977)', () => {
  it('listens with wss on the same certificate, publishes the port in the Service and opens it in the NetworkPolicy', () => {
    const r = relayFixture({ ports: { msrpTls: 2855, msrpWss: 443 }, websocket: { origins: ['https://chat.example.com'] } });
    const config = renderEngineConfig(r);
    assert.deepEqual(config.relay?.listen, [{ host: '0.0.0.0', port: 2855, transport: 'tls' }, { host: '0.0.0.0', port: 443, transport: 'wss' }]);
    assert.deepEqual(config.relay?.websocket, { origins: ['https://chat.example.com'] });
    // The rendered config is one the engine accepts, and reaches the relay as a WebSocket listener.
    const o = relayOptionsFromConfig(loadRendered(renderConfigMap(r).data![CONFIG_KEY]!), { hostname: 'relay-0', nonceSecret: Buffer.alloc(32) });
    assert.deepEqual(o.listeners.find((l) => l.websocket === true), { hosts: ['0.0.0.0'], port: 443, tls: true, websocket: true });
    assert.deepEqual(o.websocket.origins, ['https://chat.example.com']);
    assert.deepEqual(renderPublicService(r).spec?.ports?.slice(0, 2).map((p) => [p.name, p.port, p.targetPort]), [['msrps', 2855, 'msrps'], ['msrp-wss', 443, 'msrp-wss']]);
    const np = renderNetworkPolicy(r) as { spec: { ingress: { ports: { port: number }[] }[] } };
    assert.ok(np.spec.ingress[0]?.ports.some((p) => p.port === 443));
    const engine = renderStatefulSet(r, 'h').spec?.template.spec?.containers.find((c) => c.name === 'engine');
    assert.ok(engine?.ports?.some((p) => p.name === 'msrp-wss' && p.containerPort === 443));
    // Without the port, no listener and nothing published.
    const off = relayFixture();
    assert.equal(renderEngineConfig(off).relay?.listen?.some((l) => l?.transport === 'wss'), false);
    assert.equal(renderPublicService(off).spec?.ports?.some((p) => p.name === 'msrp-wss'), false);
  });
});

describe('SIP over WebSocket to the chat focus (ports.sipWss, RFC 7118)', () => {
  it('renders the focus wss port and origins, publishes sip-wss in the Service, the pod and the NetworkPolicy; nothing without chat', () => {
    const r = relayFixture({ ports: { msrpTls: 2855, msrpWss: 8443, sipWss: 7443 }, websocket: { origins: ['https://chat.example.com'] }, chat: { enabled: true } });
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.deepEqual(c.chat.sip, { host: '0.0.0.0', tcpPort: 5060, tlsPort: 5061, wssPort: 7443, wsOrigins: ['https://chat.example.com'] });
    assert.ok(renderPublicService(r).spec?.ports?.some((p) => p.name === 'sip-wss' && p.port === 7443 && p.targetPort === 'sip-wss'));
    const np = renderNetworkPolicy(r) as { spec: { ingress: { ports: { port: number }[] }[] } };
    assert.ok(np.spec.ingress[0]?.ports.some((p) => p.port === 7443));
    const engine = renderStatefulSet(r, 'h').spec?.template.spec?.containers.find((c) => c.name === 'engine');
    assert.ok(engine?.ports?.some((p) => p.name === 'sip-wss' && p.containerPort === 7443));
    const off = relayFixture({ ports: { msrpTls: 2855, sipWss: 7443 }, chat: { enabled: false } });
    assert.equal(renderPublicService(off).spec?.ports?.some((p) => p.name === 'sip-wss'), false);
    const none = loadRendered(renderConfigMap(relayFixture({ chat: { enabled: true } })).data![CONFIG_KEY]!);
    assert.equal(none.chat.sip.wssPort, undefined);
  });
  it('an empty origin list allows any origin on both WebSocket listeners: neither gets an origins setting', () => {
    const r = relayFixture({ ports: { msrpTls: 2855, msrpWss: 8443, sipWss: 7443 }, websocket: { origins: [] }, chat: { enabled: true } });
    assert.equal(websocketOrigins(r), undefined);
    const rendered = renderEngineConfig(r);
    assert.equal(rendered.relay?.websocket, undefined);
    assert.equal(rendered.chat?.sip?.wsOrigins, undefined);
    // The engine's own default then applies: no origin check (config/chat.ts, config/engine.ts).
    const c = loadRendered(renderConfigMap(r).data![CONFIG_KEY]!);
    assert.equal(c.chat.sip.wsOrigins, undefined);
    assert.deepEqual(c.relay.websocket.origins, []);
    assert.equal(c.chat.sip.wssPort, 7443);
  });
});

describe('Services', () => {
  it('public: the chosen type, annotations, MSRP and SIP ports by name', () => {
    const r = relayFixture({
      ports: { msrpTls: 2855, msrpTcp: 2856 },
      service: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', loadBalancerClass: 'x/y', annotations: { 'lb.example/type': 'nlb' } },
    });
    const svc = renderPublicService(r);
    assert.equal(svc.metadata?.name, 'relay');
    assert.deepEqual(svc.metadata?.annotations, { 'lb.example/type': 'nlb' });
    assert.equal(svc.spec?.type, 'LoadBalancer');
    assert.equal(svc.spec?.externalTrafficPolicy, 'Local');
    assert.equal(svc.spec?.loadBalancerClass, 'x/y');
    assert.deepEqual(svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort, p.protocol]), [
      ['msrps', 2855, 'msrps', 'TCP'],
      ['msrp', 2856, 'msrp', 'TCP'],
      ['sip-tcp', 5060, 'sip-tcp', 'TCP'],
      ['sip-tls', 5061, 'sip-tls', 'TCP'],
      ['msrp-chat', 2857, 'msrp-chat', 'TCP'],
    ]);
    // SIP over UDP only when spec.ports.sipUdp asks for it (issue 13: spoofable sources).
    const udp = renderPublicService(relayFixture({ ports: { msrpTls: 2855, sipUdp: 5060 } }));
    assert.deepEqual(udp.spec?.ports?.filter((p) => p.protocol === 'UDP').map((p) => [p.name, p.port]), [['sip-udp', 5060]]);
    // Without the chat server, none of its ports is published.
    assert.deepEqual(renderPublicService(relayFixture({ chat: { enabled: false } })).spec?.ports?.map((p) => p.name), ['msrps']);
    const cluster = renderPublicService(relayFixture({ service: { type: 'ClusterIP' } }));
    assert.equal(cluster.spec?.type, 'ClusterIP');
    assert.equal(cluster.metadata?.annotations, undefined);
    assert.equal(cluster.spec?.externalTrafficPolicy, undefined);
  });

  it('mesh: headless, publishes not-ready replicas, carries the mesh port', () => {
    const svc = renderMeshService(relayFixture());
    assert.equal(svc.metadata?.name, 'relay-mesh');
    assert.equal(svc.spec?.clusterIP, 'None');
    assert.equal(svc.spec?.publishNotReadyAddresses, true);
    assert.deepEqual(svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort]), [['msrps', 2855, 'msrps'], ['mesh', 2858, 'mesh'], ['mesh-chat', 2859, 'mesh-chat']]);
  });

  it('engine config: the chat server on the published ports with the relay certificate, only with spec.chat.enabled', () => {
    const c = loadRendered(renderConfigMap(relayFixture({ chat: { enabled: true, domain: 'chat.example.com' } })).data![CONFIG_KEY]!);
    assert.equal(c.chat.enabled, true);
    assert.equal(c.chat.domain, 'chat.example.com');
    assert.equal(c.chat.publicHost, 'msrp.example.com');
    assert.deepEqual(c.chat.sip, { host: '0.0.0.0', tcpPort: 5060, tlsPort: 5061 }, 'no SIP over UDP unless spec.ports.sipUdp is set');
    const udp = loadRendered(renderConfigMap(relayFixture({ chat: { enabled: true }, ports: { msrpTls: 2855, sipUdp: 5062 } })).data![CONFIG_KEY]!);
    assert.equal(udp.chat.sip.udpPort, 5062);
    assert.deepEqual(c.chat.msrp, { host: '0.0.0.0', port: 2857, transport: 'tls', relayInFront: false });
    const off = loadRendered(renderConfigMap(relayFixture({ chat: { enabled: false } })).data![CONFIG_KEY]!);
    assert.equal(off.chat.enabled, false);
  });

  it('engine config: the mesh on, whatever the replica count, with the headless Service names and the mounted mesh certificate', () => {
    for (const replicas of [1, 3]) {
      const c = renderEngineConfig(relayFixture({ replicas }));
      assert.deepEqual(c.mesh, {
        enabled: true, peerHost: 'relay-{ordinal}.relay-mesh.chat.svc.cluster.local', port: 2858, chatPort: 2859, listenHost: '0.0.0.0', tlsDir: '/etc/msrp/mesh-tls',
      });
    }
  });

  it('admin: ClusterIP with the admin API on 8080 and the engine metrics', () => {
    const svc = renderAdminService(relayFixture());
    assert.equal(svc.metadata?.name, 'relay-admin');
    assert.equal(svc.spec?.type, 'ClusterIP');
    assert.deepEqual(svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort]), [['admin', 8080, 'admin'], ['metrics', 9090, 'http']]);
    assert.equal(svc.metadata?.labels?.['app.kubernetes.io/component'], 'admin');
  });
});

describe('PodDisruptionBudget and NetworkPolicy', () => {
  it('PDB: maxUnavailable 1 by default, else the bound given, none when disabled', () => {
    assert.equal(renderPodDisruptionBudget(relayFixture())?.spec?.maxUnavailable, 1);
    const min = renderPodDisruptionBudget(relayFixture({ podDisruptionBudget: { minAvailable: '50%' } }));
    assert.deepEqual([min?.spec?.minAvailable, min?.spec?.maxUnavailable], ['50%', undefined]);
    assert.equal(renderPodDisruptionBudget(relayFixture({ podDisruptionBudget: { enabled: false } })), undefined);
  });

  it('NetworkPolicy: public ports open, admin and metrics only from the operator\'s and the configured namespaces', () => {
    const np = renderNetworkPolicy(relayFixture(), ['msrp-system', 'monitoring']) as { spec: { policyTypes: string[]; ingress: { from?: unknown[]; ports: { port: number }[] }[] } };
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    assert.deepEqual(np.spec.ingress[0]?.from, undefined);
    assert.deepEqual(np.spec.ingress[0]?.ports.map((p) => p.port), [2855, 5060, 5061, 2857]);
    assert.deepEqual(np.spec.ingress[1]?.from, [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['monitoring', 'msrp-system'] }] } }]);
    assert.deepEqual(np.spec.ingress[1]?.ports.map((p) => p.port), [8080, 9090]);
    // The mesh port only from the relay's own pods.
    assert.deepEqual(np.spec.ingress[2]?.from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'msrp-relay', 'app.kubernetes.io/instance': 'relay' } } }]);
    assert.deepEqual(np.spec.ingress[2]?.ports.map((p) => p.port), [2858, 2859]);
    // Without a list (no operator to name its namespace): the relay's own namespace only, never the whole cluster.
    const own = renderNetworkPolicy(relayFixture()) as { spec: { ingress: { from?: unknown[] }[] } };
    assert.deepEqual(own.spec.ingress[1]?.from, [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['chat'] }] } }]);
  });
});

describe('cert-manager Certificate and ServiceMonitor', () => {
  it('Certificate only with an issuerRef, for publicHost, chat domain and dnsNames, into <relay>-tls', () => {
    assert.equal(renderCertificate(relayFixture()), undefined);
    const r = relayFixture({
      tls: { issuerRef: { name: 'le', kind: 'ClusterIssuer' }, dnsNames: ['alt.example.com'] },
      chat: { domain: 'chat.example.com' },
    });
    assert.equal(tlsSecretName(r), 'relay-tls');
    const cert = renderCertificate(r) as { spec: Record<string, unknown> };
    assert.deepEqual(cert.spec.dnsNames, ['msrp.example.com', 'chat.example.com', 'alt.example.com']);
    assert.deepEqual(cert.spec.issuerRef, { name: 'le', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.equal(cert.spec.secretName, 'relay-tls');
    assert.ok((cert.spec.usages as string[]).includes('client auth'));
  });

  it('ServiceMonitor only when enabled, selecting the admin Service', () => {
    assert.equal(renderServiceMonitor(relayFixture()), undefined);
    const sm = renderServiceMonitor(relayFixture({ monitoring: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } } } })) as {
      metadata: { labels: Record<string, string> };
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; interval?: string }[] };
    };
    assert.equal(sm.metadata.labels.release, 'prom');
    assert.equal(sm.spec.selector.matchLabels['app.kubernetes.io/component'], 'admin');
    assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.interval]), [['metrics', '15s'], ['admin', '15s']]);
    // The admin port is HTTPS: scraped with the admin certificate verified against its CA.
    assert.deepEqual((sm.spec.endpoints[1] as unknown as { scheme: string; tlsConfig: unknown }).scheme, 'https');
    assert.deepEqual((sm.spec.endpoints[1] as unknown as { tlsConfig: unknown }).tlsConfig, {
      ca: { secret: { name: 'relay-admin-tls', key: 'ca.crt' } }, serverName: 'relay-admin.chat.svc',
    });
  });

  it('renderRelay reports a wanted but missing API and lists disabled kinds for removal', () => {
    const withIssuer = relayFixture({ tls: { issuerRef: { name: 'le' } }, monitoring: { serviceMonitor: { enabled: true } } });
    const none = renderRelay(withIssuer, { certManager: false, serviceMonitor: false });
    assert.deepEqual(none.missingApis, ['cert-manager', 'prometheus-operator']);
    const all = renderRelay(withIssuer, { certManager: true, serviceMonitor: true });
    assert.deepEqual(all.missingApis, []);
    assert.ok(all.apply.some((d) => d.object.kind === 'Certificate'));
    assert.ok(all.apply.some((d) => d.object.kind === 'ServiceMonitor'));
    const plain = renderRelay(relayFixture({ podDisruptionBudget: { enabled: false } }), { certManager: true, serviceMonitor: true });
    assert.deepEqual(plain.absent.map((a) => a.type.kind).sort(), ['Certificate', 'PodDisruptionBudget', 'ServiceMonitor']);
    assert.equal(plain.apply.at(-1)?.object.kind, 'StatefulSet', 'the StatefulSet goes last');
  });
});

describe('owner reference and selector', () => {
  it('controller owner reference with blockOwnerDeletion; refuses an object without uid', () => {
    assert.deepEqual(ownerReference(relayFixture()), OWNER);
    const r = relayFixture();
    delete r.metadata.uid;
    assert.throws(() => ownerReference(r), /no uid/);
    assert.equal(selectorString(relayFixture()), 'app.kubernetes.io/name=msrp-relay,app.kubernetes.io/instance=relay');
  });
});
