import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { parseAllDocuments } from 'yaml';
import { ChatRoomSpec } from './chatroom.ts';
import { buildCrds } from './crd.ts';
import type { CustomResourceDefinition } from './crd.ts';
import { DNS_SERVER_RE, MsrpRelaySpec, PEER_HOST_RE } from './msrprelay.ts';
import { structuralProblems, StructuralSchemaError, toStructural } from './structural.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const node = process.execPath;

function crd(kind: string): CustomResourceDefinition {
  const found = buildCrds().find((c) => c.spec.names.kind === kind);
  assert.ok(found, kind);
  return found;
}

function schemaOf(kind: string): Record<string, unknown> {
  return crd(kind).spec.versions[0]!.schema.openAPIV3Schema;
}

/** Every node of a schema with its path. */
function* walk(schema: unknown, path = ''): Generator<[string, Record<string, unknown>]> {
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as Record<string, unknown>;
  yield [path, s];
  for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {})) yield* walk(v, `${path}.${k}`);
  if (s.items) yield* walk(s.items, `${path}[*]`);
  if (typeof s.additionalProperties === 'object') yield* walk(s.additionalProperties, `${path}.*`);
}

describe('generated CRD files', () => {
  it('crds/ and the chart copies match internal/operator/api (run scripts/render-crds.ts when this fails)', () => {
    const r = spawnSync(node, [join(root, 'scripts', 'render-crds.ts'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });

  it('the chart copies are wrapped in crds.enabled and kept on uninstall', () => {
    const text = readFileSync(join(root, 'charts/msrp-operator/templates/crds/msrp.dev_msrprelays.yaml'), 'utf8');
    assert.match(text, /^\{\{- if \.Values\.crds\.enabled \}\}$/m);
    assert.match(text, /helm\.sh\/resource-policy: keep/);
    assert.match(text, /\{\{- end \}\}\n$/);
  });
});

describe('CRD schemas are structural', () => {
  for (const kind of ['MsrpRelay', 'ChatRoom']) {
    it(`${kind}: every node has a type and only CRD keywords`, () => {
      assert.deepEqual(structuralProblems(schemaOf(kind)), []);
    });

    it(`${kind}: every string and list checked by CEL is bounded (the API server estimates rule cost)`, () => {
      for (const [path, s] of walk(schemaOf(kind))) {
        if (!s['x-kubernetes-validations']) continue;
        if (s.type === 'string') assert.ok(typeof s.maxLength === 'number', `${path} needs maxLength`);
        for (const [childPath, child] of walk(s, path)) {
          if (child.type === 'array') assert.ok(typeof child.maxItems === 'number', `${childPath} needs maxItems`);
        }
      }
    });

    it(`${kind}: namespaced, with status subresource, category msrp and printer columns`, () => {
      const c = crd(kind);
      assert.equal(c.spec.scope, 'Namespaced');
      assert.deepEqual(c.spec.names.categories, ['msrp']);
      assert.ok(c.spec.versions[0]!.subresources.status);
      assert.equal(c.metadata.name, `${c.spec.names.plural}.msrp.dev`);
    });
  }

  it('MsrpRelay prints Ready, Replicas, Public URI, Address and Age; short name mrl; scale subresource', () => {
    const c = crd('MsrpRelay');
    const columns = (c.spec.versions[0]!.additionalPrinterColumns as { name: string; priority?: number }[])
      .filter((col) => !col.priority)
      .map((col) => col.name);
    assert.deepEqual(columns, ['Ready', 'Replicas', 'Public URI', 'Address', 'Age']);
    assert.deepEqual(c.spec.names.shortNames, ['mrl']);
    assert.deepEqual(c.spec.versions[0]!.subresources.scale, {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
  });

  it('ChatRoom prints Relay, URI, Participants, Ready and Age; short name room', () => {
    const c = crd('ChatRoom');
    const columns = (c.spec.versions[0]!.additionalPrinterColumns as { name: string }[]).map((col) => col.name);
    assert.deepEqual(columns, ['Relay', 'URI', 'Participants', 'Ready', 'Age']);
    assert.deepEqual(c.spec.names.shortNames, ['room']);
  });

  it('defaulted properties are not required of writers, and status conditions are a list map keyed by type', () => {
    const spec = (schemaOf('MsrpRelay').properties as Record<string, Record<string, unknown>>).spec!;
    assert.deepEqual(spec.required, ['publicHost', 'tls']);
    const status = (schemaOf('MsrpRelay').properties as Record<string, Record<string, unknown>>).status!;
    const conditions = (status.properties as Record<string, Record<string, unknown>>).conditions!;
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  });
});

describe('spec.peering forms (the CEL rules\' regular expressions; RE2 and JavaScript agree on these)', () => {
  const whole = (re: string) => new RegExp(`^(${re})$`);

  it('allow: a name, *.name, *, an IPv4 or a bracketed IPv6 address, each with an optional port 1-65535', () => {
    const re = whole(PEER_HOST_RE);
    for (const ok of ['relay.example.com', '*.example.net', '*.example.net:2855', '*', '*:2855', '10.0.0.7', '[fd00::7]:2855',
      'relay-b.msrp.svc.cluster.local', 'relay.example.com:1', 'relay.example.com:65535']) {
      assert.ok(re.test(ok), ok);
    }
    for (const bad of ['', 'relay', 'Relay.Example.com', 'msrps://relay.example.com', 'relay.example.com:0', 'relay.example.com:65536',
      'relay.example.com:', '*.com', '**.example.net', 'a.*.example.net', 'fd00::7', '[fd00::7', '[fd00:::7]', 'relay.example.com/x', ' relay.example.com']) {
      assert.equal(re.test(bad), false, bad);
    }
  });

  it('dnsServers: an IP address, v4 with an optional port, v6 bare or in brackets with a port', () => {
    const re = whole(DNS_SERVER_RE);
    for (const ok of ['10.96.0.10', '10.0.0.10:5353', 'fd00::a', '[fd00::a]:53', '::1', '::', '1:2:3:4:5:6:7:8', '[FD00::A]:53']) assert.ok(re.test(ok), ok);
    for (const bad of ['kube-dns.kube-system', '10.0.0.256', '10.0.0', '10.0.0.10:0', '10.0.0.10:70000', 'fd00::a:53:', 'fd00:::a', '1:2:3:4:5:6:7:8:9', 'fd00::a::1', '[fd00::a]:', '[fd00::g]:53', 'udp://10.0.0.10']) {
      assert.equal(re.test(bad), false, bad);
    }
  });
});

describe('toStructural', () => {
  it('maps a union of string literals to an enum', () => {
    const s = toStructural(Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a' }));
    assert.deepEqual(s, { type: 'string', enum: ['a', 'b'], default: 'a' });
  });

  it('maps T | null to nullable T', () => {
    assert.deepEqual(toStructural(Type.Union([Type.String({ maxLength: 3 }), Type.Null()])), {
      type: 'string',
      maxLength: 3,
      nullable: true,
    });
  });

  it('maps a string-keyed record to additionalProperties and drops $id/$schema', () => {
    const s = toStructural(Type.Record(Type.String(), Type.Integer(), { $id: 'X', $schema: 'y' }));
    assert.deepEqual(s, { type: 'object', additionalProperties: { type: 'integer' } });
  });

  it('drops additionalProperties: false (the server prunes or rejects unknown fields itself)', () => {
    const s = toStructural(Type.Object({ a: Type.Optional(Type.String()) }, { additionalProperties: false }));
    assert.deepEqual(s, { type: 'object', properties: { a: { type: 'string' } } });
  });

  it('keeps x-kubernetes extensions given as TypeBox options', () => {
    const s = toStructural(Type.Array(Type.String(), { 'x-kubernetes-list-type': 'set', maxItems: 2 }));
    assert.deepEqual(s, { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set', maxItems: 2 });
  });

  it('refuses a union of objects, which has no structural form', () => {
    assert.throws(
      () => toStructural(Type.Object({ x: Type.Union([Type.Object({ a: Type.String() }), Type.Object({ b: Type.String() })]) })),
      (e: unknown) => e instanceof StructuralSchemaError && e.path === '<root>.x',
    );
  });

  it('refuses uniqueItems (use x-kubernetes-list-type: set)', () => {
    assert.throws(() => toStructural(Type.Array(Type.String(), { uniqueItems: true })), StructuralSchemaError);
  });
});

describe('samples against the TypeBox types', () => {
  function docs(file: string): Record<string, unknown>[] {
    return parseAllDocuments(readFileSync(join(root, 'manifests/samples', file), 'utf8')).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
  }

  for (const file of ['relay-cert-manager.yaml', 'relay-existing-secret.yaml', 'rooms.yaml']) {
    it(`${file} has the shape of the types once defaults are applied`, () => {
      for (const doc of docs(file)) {
        const schema = doc.kind === 'MsrpRelay' ? MsrpRelaySpec : ChatRoomSpec;
        const spec = Value.Default(schema, structuredClone(doc.spec));
        assert.ok(Value.Check(schema, spec), JSON.stringify([...Value.Errors(schema, spec)].slice(0, 3)));
      }
    });
  }

  it('defaults fill a minimal relay as the API server would', () => {
    const spec = Value.Default(MsrpRelaySpec, { publicHost: 'msrp.example.com', tls: { secretName: 't' } }) as Record<
      string,
      Record<string, unknown>
    >;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.image, { pullPolicy: 'IfNotPresent' });
    assert.equal(spec.ports!.msrpTls, 2855);
    assert.equal(spec.drain!.timeoutSeconds, 600);
    assert.equal(spec.service!.type, 'LoadBalancer');
  });
});
