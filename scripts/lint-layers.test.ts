// The layering rules of eslint.config.js (docs/architecture.md §2.2) fire: ESLint's Node API
// lints in-memory snippets placed at virtual paths with the repository's own config. Type-aware
// rules are switched off (the virtual files are in no TypeScript program); the layering rule
// is syntactic and stays on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const RULE = '@typescript-eslint/no-restricted-imports';
const eslint = new ESLint({
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  overrideConfig: [tseslint.configs.disableTypeChecked],
});

/** Messages of the layering rule for `code` linted as if it were the file at `filePath`. */
async function layering(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath });
  assert.ok(result, filePath);
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, [], `${filePath} parses`);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

async function assertForbidden(filePath: string, code: string): Promise<void> {
  const messages = await layering(filePath, code);
  assert.equal(messages.length, 1, `${filePath}: ${code} should break the layering`);
  assert.match(messages[0]!, /docs\/architecture\.md §2\.2/);
}

async function assertAllowed(filePath: string, code: string): Promise<void> {
  assert.deepEqual(await layering(filePath, code), [], `${filePath}: ${code} should be allowed`);
}

describe('layering lint (eslint.config.js, docs/architecture.md §2.2)', () => {
  describe('protocol folders (msrp, sip, auth) import no I/O and no higher layer', () => {
    const io = [
      "import { connect } from 'node:net';",
      "import { connect } from 'node:tls';",
      "import { createSocket } from 'node:dgram';",
      "import { createServer } from 'node:http';",
      "import { request } from 'node:https';",
      "import { readFileSync } from 'node:fs';",
      "import { readFile } from 'node:fs/promises';",
      "import { readFileSync } from 'fs';",
      "import pg from 'pg';",
      "import { PGlite } from '@electric-sql/pglite';",
      "import Fastify from 'fastify';",
      "import { KubeConfig } from '@kubernetes/client-node';",
      "import { request } from 'undici';",
      "import pino from 'pino';",
    ];
    for (const folder of ['msrp', 'sip', 'auth']) {
      for (const code of io) {
        it(`${folder}/: ${code}`, () => assertForbidden(`internal/${folder}/virtual.ts`, code));
      }
    }
    const higher = ['transport/listeners.ts', 'relay/router.ts', 'store/store.ts', 'chat/switch/switch.ts', 'chat/server.ts', 'chat/focus/focus.ts', 'admin/app.ts', 'operator/manager.ts', 'config/engine.ts', 'telemetry/metrics.ts', 'client/link.ts', 'mesh/anything.ts', 'engine/anything.ts'];
    for (const target of higher) {
      it(`sip/ imports nothing from ../${target}`, () => assertForbidden('internal/sip/virtual.ts', `import { x } from '../${target}';`));
    }
    it('a type-only import of a higher layer is a break too', () =>
      assertForbidden('internal/msrp/virtual.ts', "import type { Connection } from '../transport/connection.ts';"));
    it('a re-export of a higher layer is a break too', () =>
      assertForbidden('internal/auth/virtual.ts', "export { listen } from '../transport/listen.ts';"));
    it('a file deeper in the folder is held to the same rule', () =>
      assertForbidden('internal/msrp/sub/virtual.ts', "import { x } from '../../relay/router.ts';"));
    it('a test helper of a protocol folder is held to the same rule', () =>
      assertForbidden('internal/msrp/testdata/virtual.ts', "import { connect } from 'node:net';"));
    it('pure modules and the other protocol folders are allowed', async () => {
      await assertAllowed('internal/sip/virtual.ts', "import { createHash } from 'node:crypto';");
      await assertAllowed('internal/sip/virtual.ts', "import { Buffer } from 'node:buffer';");
      await assertAllowed('internal/sip/virtual.ts', "import { verifyDigest } from '../auth/index.ts';");
      await assertAllowed('internal/msrp/virtual.ts', "import { parse } from './parser.ts';");
    });
    it('their tests may use sockets (tests wire, like cmd/)', () =>
      assertAllowed('internal/sip/virtual.test.ts', "import { connect } from 'node:net';\nimport { x } from '../transport/sip.ts';"));
  });

  describe('config imports no feature folder', () => {
    for (const folder of ['transport', 'store', 'relay', 'mesh', 'engine', 'chat', 'admin', 'operator', 'client']) {
      it(`config/ imports nothing from ../${folder}/`, () => assertForbidden('internal/config/virtual.ts', `import { x } from '../${folder}/x.ts';`));
    }
    it('a type-only import of a feature folder is a break too', () =>
      assertForbidden('internal/config/virtual.ts', "import type { ChatConfig } from '../chat/server.ts';"));
    it('files, YAML, TypeBox and the protocol folders are allowed', async () => {
      await assertAllowed('internal/config/virtual.ts', "import { readFileSync } from 'node:fs';\nimport { parse } from 'yaml';\nimport Type from 'typebox';");
      await assertAllowed('internal/config/virtual.ts', "import type { MsrpUri } from '../msrp/uri.ts';");
      await assertAllowed('internal/config/virtual.ts', "import { ChatConfigSchema } from './chat.ts';");
    });
  });

  describe('production code imports no test-only code', () => {
    const testOnly = [
      "import { TestClient } from './testclient.ts';",
      "import { testPki } from '../transport/testcerts.ts';",
      "import { vectors } from './testdata/rfc4975.ts';",
      "import { x } from './parser.test.ts';",
      "import { startThrowawayPostgres } from '../../e2e/postgres/throwaway.ts';",
      "import { x } from '../../bench/common.ts';",
      "import { describe } from 'node:test';",
      "import assert from 'node:assert/strict';",
      "import fc from 'fast-check';",
    ];
    for (const code of testOnly) {
      it(`relay/: ${code}`, () => assertForbidden('internal/relay/virtual.ts', code));
    }
    it('cmd/ is production code', () => assertForbidden('cmd/virtual.ts', "import { startStoreRelay } from '../internal/relay/teststore.ts';"));
    it('scripts/ is production code', () => assertForbidden('scripts/virtual.ts', "import { testPki } from '../internal/transport/testcerts.ts';"));
    it('a type-only import of a test helper is a break too', () =>
      assertForbidden('internal/chat/focus/virtual.ts', "import type { TestPeer } from '../switch/testpeer.ts';"));
    it('tests and test helpers may import test-only code', async () => {
      await assertAllowed('internal/relay/virtual.test.ts', "import { TestClient } from './testclient.ts';\nimport { describe } from 'node:test';");
      await assertAllowed('internal/relay/testvirtual.ts', "import { TestClient } from './testclient.ts';\nimport { testPki } from '../transport/testcerts.ts';");
      await assertAllowed('e2e/virtual.ts', "import { startStoreRelay } from '../internal/relay/teststore.ts';");
    });
    it('production imports are allowed', () =>
      assertAllowed('internal/relay/virtual.ts', "import { Connection } from '../transport/connection.ts';\nimport { parse } from '../msrp/parser.ts';"));
  });

  describe('feature folders keep to their layer', () => {
    it('a relay test helper does not import the admin app', () =>
      assertForbidden('internal/relay/testvirtual.ts', "import { buildAdminApp } from '../admin/app.ts';"));
    it('the relay does not import the chat switch', () =>
      assertForbidden('internal/relay/virtual.ts', "import { ChatSwitch } from '../chat/switch/switch.ts';"));
    it('transport does not import the relay', () =>
      assertForbidden('internal/transport/virtual.ts', "import { startRelay } from '../relay/relay.ts';"));
    it('the store does not import the admin app', () =>
      assertForbidden('internal/store/virtual.ts', "import { buildAdminApp } from '../admin/app.ts';"));
    it('the admin app reaches the engine over HTTP only', () =>
      assertForbidden('internal/admin/routes/virtual.ts', "import { startRelay } from '../../relay/relay.ts';"));
    it('the operator never imports the engine', () =>
      assertForbidden('internal/operator/virtual.ts', "import { startRelay } from '../relay/relay.ts';"));
    it('the engine does not import the admin app', () =>
      assertForbidden('internal/engine/virtual.ts', "import { buildAdminApp } from '../admin/app.ts';"));
    for (const folder of ['relay', 'chat', 'chat/switch', 'chat/focus']) {
      it(`${folder}/ does not import the engine that assembles it`, () =>
        assertForbidden(`internal/${folder}/virtual.ts`, `import { startEngine } from '${'../'.repeat(folder.split('/').length)}engine/engine.ts';`));
    }
    it('the engine may use the relay, the chat server, the store, config and telemetry', () =>
      assertAllowed('internal/engine/virtual.ts', "import { startRelay } from '../relay/relay.ts';\nimport { startChatFromConfig } from '../chat/from-config.ts';\nimport { openStore } from '../store/index.ts';\nimport type { EngineConfig } from '../config/engine.ts';\nimport { createMetrics } from '../telemetry/metrics.ts';"));
    it('the focus may use the chat switch, the SIP transport and the store', () =>
      assertAllowed('internal/chat/focus/virtual.ts', "import { ChatSwitch } from '../switch/switch.ts';\nimport { startSipTransport } from '../../transport/sip.ts';\nimport type { Store } from '../../store/index.ts';"));
    it('the chat server assembles its two halves', () =>
      assertAllowed('internal/chat/virtual.ts', "import { ChatSwitch } from './switch/switch.ts';\nimport { startFocus } from './focus/focus.ts';\nimport { ownerOf } from '../mesh/ownership.ts';"));
    it('the MSRP switch does not import the SIP focus above it', () =>
      assertForbidden('internal/chat/switch/virtual.ts', "import { startFocus } from '../focus/focus.ts';"));
    it('neither half imports the chat server that assembles it', async () => {
      await assertForbidden('internal/chat/switch/virtual.ts', "import { startChatServer } from '../server.ts';");
      await assertForbidden('internal/chat/focus/virtual.ts', "import type { RoomMesh } from '../room-mesh.ts';");
    });
    it('the switch does not import the relay', () =>
      assertForbidden('internal/chat/switch/virtual.ts', "import { startRelay } from '../../relay/relay.ts';"));
    it('the client uses the switch\'s URI rules, not the focus or the chat server', async () => {
      await assertAllowed('internal/client/virtual.ts', "import { sameUri } from '../chat/switch/policy.ts';");
      await assertForbidden('internal/client/virtual.ts', "import { startFocus } from '../chat/focus/focus.ts';");
      await assertForbidden('internal/client/virtual.ts', "import { startChatServer } from '../chat/server.ts';");
    });
    it('the relay may use transport, store, auth and config', () =>
      assertAllowed('internal/relay/virtual.ts', "import { listen } from '../transport/listen.ts';\nimport type { Store } from '../store/store.ts';\nimport { verify } from '../auth/verify.ts';\nimport type { EngineConfig } from '../config/engine.ts';"));
  });
});

describe('private members are #fields (eslint.config.js, docs/architecture.md §2.3)', () => {
  async function privateKeyword(code: string): Promise<number> {
    const [result] = await eslint.lintText(code, { filePath: 'internal/relay/virtual.ts' });
    assert.ok(result);
    assert.deepEqual(result.messages.filter((m) => m.fatal === true), [], 'parses');
    return result.messages.filter((m) => m.ruleId === 'no-restricted-syntax').length;
  }
  it('the private keyword on a field, a method or a parameter property is refused', async () => {
    assert.equal(await privateKeyword('export class A { private x = 1; }'), 1);
    assert.equal(await privateKeyword('export class A { private readonly y: number = 2; }'), 1);
    assert.equal(await privateKeyword('export class A { private m(): void {} }'), 1);
    assert.equal(await privateKeyword('export class A { constructor(private readonly z: number) {} }'), 1);
  });
  it('#fields, #methods and a private constructor are allowed', async () => {
    assert.equal(await privateKeyword('export class A { #x = 1; #m(): number { return this.#x; } get x(): number { return this.#m(); } }'), 0);
    assert.equal(await privateKeyword('export class A { private constructor() {} static make(): A { return new A(); } }'), 0);
  });
});
