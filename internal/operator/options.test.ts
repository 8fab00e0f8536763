import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ADMIN_URL_TEMPLATE, namespaceList, parseBindAddress, parseDuration, parseOperatorArgs, UsageError } from './options.ts';
import { adminBaseUrl } from './admin-client.ts';

describe('operator flags', () => {
  it('accepts the flags the chart passes, controller-runtime style', () => {
    const o = parseOperatorArgs(
      ['--metrics-bind-address=:8080', '--health-probe-bind-address=:8081', '--leader-elect=true', '--leader-election-namespace=msrp-system',
        '--leader-election-id=msrp-operator', '--watch-namespaces=a, b', '--log-level=debug'],
      {},
    );
    assert.notEqual(o, 'help');
    if (o === 'help') return;
    assert.equal(o.leaderElect, true);
    assert.equal(o.leaderElectionNamespace, 'msrp-system');
    assert.deepEqual(o.watchNamespaces, ['a', 'b']);
    assert.equal(o.logLevel, 'debug');
    assert.deepEqual([o.leaseDurationMs, o.renewDeadlineMs, o.retryPeriodMs], [15_000, 10_000, 2_000]);
    assert.equal(o.adminUrlTemplate, DEFAULT_ADMIN_URL_TEMPLATE);
  });

  it('defaults: no leader election, all namespaces, POD_NAMESPACE for the lease', () => {
    const o = parseOperatorArgs(['--leader-elect'], { POD_NAMESPACE: 'ops' });
    if (o === 'help') throw new Error('help');
    assert.equal(o.leaderElect, true, 'bare --leader-elect means true');
    assert.equal(o.leaderElectionNamespace, 'ops');
    assert.deepEqual(o.watchNamespaces, []);
    assert.deepEqual(o.adminNamespaces, ['ops'], 'the NetworkPolicy admits the operator\'s own namespace to the admin API');
    const m = parseOperatorArgs(['--admin-allowed-namespaces=monitoring, ops'], { POD_NAMESPACE: 'ops' });
    if (m === 'help') throw new Error('help');
    assert.deepEqual(m.adminNamespaces, ['ops', 'monitoring']);
    const d = parseOperatorArgs([], {});
    if (d === 'help') throw new Error('help');
    assert.equal(d.leaderElect, false);
    assert.equal(d.leaderElectionNamespace, 'default');
  });

  it('rejects unknown flags, bad durations and inconsistent lease timing', () => {
    assert.throws(() => parseOperatorArgs(['--nope'], {}), UsageError);
    assert.throws(() => parseOperatorArgs(['--resync-period=soon'], {}), /invalid duration/);
    assert.throws(() => parseOperatorArgs(['--leader-election-renew-deadline=20s'], {}), /lease duration > renew deadline/);
    assert.throws(() => parseOperatorArgs(['--leader-elect=maybe'], {}), /true or false/);
  });

  it('--relay-image: REPOSITORY:TAG, a registry port allowed; the package default otherwise', () => {
    const o = parseOperatorArgs(['--relay-image=registry.local:5000/team/msrpd:1.2.3-abc']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.relayImage, { repository: 'registry.local:5000/team/msrpd', tag: '1.2.3-abc' });
    const d = parseOperatorArgs([]);
    assert.ok(d !== 'help');
    assert.deepEqual(d.relayImage, { repository: 'ghcr.io/msrp-k8s/msrpd', tag: '0.1.0' });
    for (const bad of ['msrpd', 'registry.local:5000/msrpd', 'msrpd:']) assert.throws(() => parseOperatorArgs([`--relay-image=${bad}`]), UsageError, bad);
  });

  it('namespace lists: trimmed, empty entries dropped, each namespace once in the order given', () => {
    assert.deepEqual(namespaceList(undefined), []);
    assert.deepEqual(namespaceList(''), []);
    assert.deepEqual(namespaceList(' ,, '), []);
    assert.deepEqual(namespaceList('b, a,,b , c'), ['b', 'a', 'c']);
    const o = parseOperatorArgs(['--watch-namespaces=relays,relays, chat', '--admin-allowed-namespaces=ops, monitoring,'], { POD_NAMESPACE: 'ops' });
    assert.ok(o !== 'help');
    assert.deepEqual(o.watchNamespaces, ['relays', 'chat']);
    assert.deepEqual(o.adminNamespaces, ['ops', 'monitoring']);
  });

  it('durations and bind addresses', () => {
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('15s', 'x'), 15_000);
    assert.equal(parseDuration('10m', 'x'), 600_000);
    assert.equal(parseDuration('2', 'x'), 2_000);
    assert.deepEqual(parseBindAddress(':8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseBindAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseBindAddress('[::1]:9000'), { host: '::1', port: 9000 });
    assert.equal(parseBindAddress('0'), undefined);
    assert.throws(() => parseBindAddress('8080'), UsageError);
  });

  it('the admin URL template names the relay admin Service', () => {
    assert.equal(adminBaseUrl(DEFAULT_ADMIN_URL_TEMPLATE, { name: 'relay', namespace: 'chat' }), 'https://relay-admin.chat.svc:8080');
    assert.equal(adminBaseUrl('http://127.0.0.1:9/{namespace}/{name}/', { name: 'r', namespace: 'n' }), 'http://127.0.0.1:9/n/r');
  });
});
