// The configuration loader never puts a secret value in an error (errors are logged: msrpd's
// stderr at start, a live reload's warning): each row a way a secret could get into one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadAdminConfig } from './admin.ts';
import { loadEngineConfig } from './engine.ts';
import { ConfigError } from './errors.ts';

const SECRET = 'hunter2-Zq9x';
const dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** The error `load` throws, as the logs would show it (message and issues). */
function thrown(load: () => unknown): string {
  try {
    load();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return `${e.message}\n${JSON.stringify(e.issues)}`;
  }
  assert.fail('the configuration was accepted');
}

const ROWS: [string, () => unknown, RegExp][] = [
  ['a database URL of the wrong scheme, in the file', () => loadEngineConfig({ file: file('a.yaml', `database:\n  url: mysql://msrp:${SECRET}@db/msrp\n`), env: {} }), /database\.url/],
  ['a database URL of the wrong scheme, in the environment', () => loadEngineConfig({ env: { MSRP_DATABASE__URL: `mysql://msrp:${SECRET}@db/msrp` } }), /database\.url/],
  ['the admin\'s database URL, in the environment', () => loadAdminConfig({ env: { MSRP_ADMIN_DATABASE__URL: `mysql://msrp:${SECRET}@db/msrp` } }), /database\.url/],
  ['a YAML syntax error on the line of the URL', () => loadEngineConfig({ file: file('b.yaml', `database:\n  url: "postgres://msrp:${SECRET}@db/msrp\n  poolMax: [\n`), env: {} }), /cannot parse/],
  ['a JSON syntax error next to the URL', () => loadEngineConfig({ file: file('c.json', `{"database": {"url": "postgres://msrp:${SECRET}@db/msrp"},}`), env: {} }), /cannot parse/],
  ['a JSON value in the environment that does not parse', () => loadEngineConfig({ env: { MSRP_NEXT_HOPS__ALLOW: `[{"host": "${SECRET}"` } }), /nextHops\.allow/],
  ['a section of the wrong shape (a YAML list) holding the URL', () => loadEngineConfig({ file: file('e.yaml', `database:\n  - url: postgres://msrp:${SECRET}@db/msrp\n`), env: {} }), /database/],
  ['a section of the wrong shape holding a secret setting by name', () => loadEngineConfig({ env: { MSRP_AUTH__SUBSCRIBERS: `{"enabled": {"password": "${SECRET}"}}` } }), /auth\.subscribers\.enabled/],
  ['a URL with credentials in a setting of the wrong type', () => loadEngineConfig({ file: file('d.yaml', `nextHops:\n  dnsServers: ["https://u:${SECRET}@resolver"]\n`), env: {} }), /dnsServers/],
];

describe('config errors never carry a secret value', () => {
  for (const [what, load, names] of ROWS) {
    it(what, () => {
      const text = thrown(load);
      assert.match(text, names, 'the error still says which setting');
      assert.doesNotMatch(text, new RegExp(SECRET), text);
    });
  }
});
