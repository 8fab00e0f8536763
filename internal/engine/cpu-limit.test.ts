// relay.workers: auto on this machine's cgroup files as the kernel writes them (v2, v1,
// none), through a reader over a table of file contents: the real files are the machine's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEngineConfig } from '../config/index.ts';
import { cgroupCpuLimit, workerCount, type ReadFile } from './cpu-limit.ts';

const files = (t: Record<string, string>): ReadFile => (path) => t[path];

describe('CPU limit for relay.workers: auto', () => {
  it('reads cgroup v2 cpu.max, and no limit from "max"', () => {
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' })), 2);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  });
  it('reads cgroup v1 cfs quota over period, and no limit from -1', () => {
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), 4);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' })), 0.5);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), undefined);
    assert.equal(cgroupCpuLimit(files({})), undefined);
  });
  it('rounds the limit up, at least one, else takes the CPUs available', () => {
    const auto = loadEngineConfig({ env: { MSRP_RELAY__WORKERS: 'auto', MSRP_DATABASE__URL: 'postgres://x/y' } });
    assert.equal(auto.relay.workers, 'auto');
    assert.equal(workerCount(auto, { read: files({ '/sys/fs/cgroup/cpu.max': '150000 100000' }) }).workers, 2);
    assert.equal(workerCount(auto, { read: files({ '/sys/fs/cgroup/cpu.max': '10000 100000' }) }).workers, 1);
    assert.equal(workerCount(auto, { read: files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }), cpus: () => 6 }).workers, 6);
    assert.equal(workerCount(auto, { read: files({}), cpus: () => 3 }).workers, 3);
  });
  it('keeps one process by default, and for auto without PostgreSQL or with the chat server', () => {
    assert.equal(workerCount(loadEngineConfig({ env: {} })).workers, 1);
    const limit = files({ '/sys/fs/cgroup/cpu.max': '400000 100000' });
    assert.equal(workerCount(loadEngineConfig({ env: { MSRP_RELAY__WORKERS: 'auto' } }), { read: limit }).workers, 1);
    assert.equal(workerCount(loadEngineConfig({ env: { MSRP_RELAY__WORKERS: 'auto', MSRP_DATABASE__URL: 'postgres://x/y', MSRP_CHAT__ENABLED: 'true' } }), { read: limit }).workers, 1);
    assert.equal(workerCount(loadEngineConfig({ env: { MSRP_RELAY__WORKERS: '3', MSRP_DATABASE__URL: 'postgres://x/y' } })).workers, 3);
  });
  it('refuses a number of workers that could not work', () => {
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__WORKERS: '2' } }), /relay.workers.*database.url/s);
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__WORKERS: '2', MSRP_DATABASE__URL: 'postgres://x/y', MSRP_CHAT__ENABLED: 'true' } }), /relay.workers.*chat/s);
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__WORKERS: '0' } }), /relay.workers/);
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__WORKERS: 'many' } }), /relay.workers/);
  });
});
