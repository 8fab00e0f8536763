// The chart's alerts and Grafana dashboard (docs/relay.md "Alerts and dashboards"):
// - promtool (built from the Go module proxy by e2e/monitoring/promtool.sh; PROMTOOL in CI)
//   checks the rule file, runs its unit tests (e2e/monitoring/alerts.test.yaml: each alert
//   fires on the series that should raise it and not on healthy ones), and parses every
//   dashboard query (as recording rules, Grafana's variables filled in);
// - a running engine (startEngine, relay and chat server, real sockets) is scraped, and every
//   metric an alert or a panel uses must be in its /metrics;
// - the dashboard JSON has what Grafana needs to load it (uid, a data source variable,
//   unique panel ids, every panel on the 24-column grid with a query).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { loadEngineConfig } from '../internal/config/index.ts';
import { startEngine, type RunningEngine } from '../internal/engine/engine.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { testPki } from '../internal/transport/testcerts.ts';
import { ROOT } from './operator-harness.ts';

const RULES = path.join(ROOT, 'charts', 'msrp-operator', 'files', 'prometheus-rules.yaml');
const DASHBOARD = path.join(ROOT, 'charts', 'msrp-operator', 'files', 'dashboards', 'msrp-relay.json');
const RULE_TESTS = path.join(ROOT, 'e2e', 'monitoring', 'alerts.test.yaml');

/** PROMTOOL, else the cached build of e2e/monitoring/promtool.sh; undefined when neither exists. */
function findPromtool(): string | undefined {
  const env = process.env['PROMTOOL'];
  if (env) return existsSync(env) ? env : undefined;
  try {
    const p = execFileSync('bash', [path.join(ROOT, 'e2e', 'monitoring', 'promtool.sh'), '--print-path'], { encoding: 'utf8' }).trim();
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}
const promtool = findPromtool();
const skipPromtool = promtool === undefined && process.env['CI'] !== 'true' ? 'promtool not built: run e2e/monitoring/promtool.sh' : false;

function run(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: ROOT }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr }));
  });
}

interface Rule { alert?: string; record?: string; expr: string; labels?: Record<string, string> }
const rules = (): Rule[] => (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets: { expr: string; refId: string }[] }
const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } };
const panelQueries = (): string[] => dashboard().panels.flatMap((p) => p.targets.map((t) => t.expr));
/** Grafana's variables as Prometheus would see them after Grafana fills them in. */
const filled = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*');
/** msrp_ metric names in PromQL, with histogram series suffixes taken back to the metric. */
const metricNames = (exprs: string[]): Set<string> =>
  new Set(exprs.flatMap((e) => [...e.matchAll(/\bmsrp_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))));

describe('alerts and dashboard: promtool', { skip: skipPromtool, timeout: 120_000 }, () => {
  before(() => {
    // Under CI=true a missing promtool is a failure (.ci/peers.d/22-promtool.sh builds it).
    assert.ok(promtool, 'promtool not built: run e2e/monitoring/promtool.sh (CI: .ci/peers.d/22-promtool.sh)');
  });

  it('promtool check rules: the chart\'s rule file is valid and has the six alerts', async () => {
    const r = await run(promtool!, ['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 6 rules found/);
    assert.deepEqual(rules().map((x) => x.alert), [
      'MsrpRelayNotReady', 'MsrpStoreDown', 'MsrpAuthFailuresSpike', 'MsrpNextHopFailures', 'MsrpDropsHigh', 'MsrpCertificateExpiringSoon',
    ]);
  });

  it('promtool test rules: every alert fires on its series with its labels and text, and not on healthy ones', async () => {
    const r = await run(promtool!, ['test', 'rules', RULE_TESTS]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it('every dashboard query is valid PromQL (checked by promtool as recording rules)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-promql-'));
    try {
      const file = path.join(dir, 'dashboard.yaml');
      const exprs = panelQueries();
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: filled(e) })) }] }));
      const r = await run(promtool!, ['check', 'rules', file]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
      // A query that does not parse is refused: the check can fail.
      writeFileSync(file, stringify({ groups: [{ name: 'bad', rules: [{ record: 'x:y', expr: 'sum by (pod (msrp_relay_sessions)' }] }] }));
      assert.notEqual((await run(promtool!, ['check', 'rules', file])).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alerts and dashboard: the engine exports every metric they use', { timeout: 120_000 }, () => {
  let engine: RunningEngine;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'monitoring-engine-'));
    const pki = await testPki();
    const c = loadEngineConfig({
      env: {
        MSRP_RELAY__PUBLIC_HOST: 'localhost', MSRP_AUTH__REALMS: JSON.stringify([{ name: 'mon.test', hosts: [] }]), MSRP_TLS__DIR: pki.server.dir,
        MSRP_CHAT__ENABLED: 'true', MSRP_CHAT__DOMAIN: 'chat.test', MSRP_CHAT__PUBLIC_HOST: '127.0.0.1', MSRP_CHAT__MSRP__TRANSPORT: 'tcp',
        ...(process.env['DATABASE_URL'] ? {} : { MSRP_DATABASE__DATA_DIR: path.join(dir, 'pglite') }),
      },
    });
    let db: { url: string; drop: () => Promise<void> } | undefined;
    if (process.env['DATABASE_URL']) {
      const { freshDatabase } = await import('../internal/store/testdatabase.ts');
      db = await freshDatabase(process.env['DATABASE_URL'], 'msrp_mon');
    }
    engine = await startEngine({
      ...c,
      ...(db !== undefined ? { database: { ...c.database, url: db.url } } : {}),
      relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }] },
      http: { ...c.http, host: '127.0.0.1', port: 0, controlPort: 0 },
      chat: { ...c.chat, sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 }, msrp: { ...c.chat.msrp, host: '127.0.0.1', port: 0 } },
    }, { logger: createLogger({ name: 'monitoring-test', level: 'silent', env: {} }) });
    if (db !== undefined) {
      const drop = db.drop;
      after(drop);
    }
  });
  after(async () => {
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /metrics of a running engine has every msrp_ metric of the alerts and the dashboard, and the values they read', async () => {
    const text = await (await fetch(`http://127.0.0.1:${engine.addresses.http!.port}/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (msrp_[a-z0-9_]+) /gm)].map((m) => m[1]!));
    const used = metricNames([...rules().map((r) => r.expr), ...panelQueries()]);
    assert.ok(used.size >= 12, `the alerts and panels use ${used.size} metrics`);
    const missing = [...used].filter((m) => !exported.has(m));
    assert.deepEqual(missing, [], `used but not exported: ${missing.join(', ')}`);
    // What the alerts compare: a ready relay, a reachable store, the certificate's notAfter (the test PKI's).
    assert.match(text, /^msrp_relay_ready 1$/m);
    assert.match(text, /^msrp_store_up 1$/m);
    const expiry = Number(/^msrp_tls_certificate_expiry_timestamp_seconds\{certificate="relay"\} (\d+)$/m.exec(text)?.[1]);
    assert.ok(expiry > Date.now() / 1000, `the relay certificate's notAfter is in the future: ${expiry}`);
    // A name the rules do not use is not reported missing by accident: the check can fail.
    assert.ok(!exported.has('msrp_no_such_metric'));
  });

  it('the dashboard JSON loads: uid, a Prometheus data source variable, unique panel ids, panels on the grid, a query each', () => {
    const d = dashboard();
    assert.equal(d.uid, 'msrp-relay');
    assert.ok(d.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus'));
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    for (const p of d.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
      assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.length > 0), `${p.title} has a query`);
    }
    const titles = d.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['sessions', 'send rate', 'bytes', 'latency', 'drops', 'rooms']) assert.ok(titles.includes(topic), `a panel about ${topic}: ${titles}`);
  });
});
