// Host-side plumbing for e2e/node: the cgroup subtree, mounts, the bridge's subnet and the
// processes a node leaves, read from /proc and /sys the way `ip`, `mount` and `ps` would.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const IP = '/usr/sbin/ip';

export function inode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** The mount points of the cgroup v1 hierarchies and the v2 one (hybrid: /sys/fs/cgroup/unified). */
export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!)
    .filter((p) => p.startsWith('/sys/fs/cgroup'));
}

/** Creates `/sys/fs/cgroup/<each>/<name>`; cpuset needs its cpus and mems before it takes tasks. */
export function makeCgroupRoot(name: string): void {
  for (const m of cgroupMounts()) {
    const dir = path.join(m, name);
    execFileSync('mkdir', ['-p', dir]);
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = path.join(m, f);
      if (existsSync(parent) && readFileSync(path.join(dir, f), 'utf8').trim() === '') {
        writeFileSync(path.join(dir, f), readFileSync(parent, 'utf8'));
      }
    }
  }
}

/** Every pid in the subtree (any hierarchy that lists it). */
export function cgroupPids(name: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    try {
      for (const l of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
    } catch {
      /* gone */
    }
    for (const e of entries) {
      const p = path.join(dir, e);
      try {
        if (statSync(p).isDirectory()) walk(p);
      } catch {
        /* gone */
      }
    }
  };
  for (const m of cgroupMounts()) walk(path.join(m, name));
  return [...pids];
}

/** rmdir of the subtree, deepest first, in every hierarchy; true when all is gone. */
export function removeCgroupRoot(name: string): boolean {
  let clean = true;
  const rmTree = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e);
      try {
        if (statSync(p).isDirectory()) rmTree(p);
      } catch {
        /* gone */
      }
    }
    try {
      rmdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') clean = false;
    }
  };
  for (const m of cgroupMounts()) rmTree(path.join(m, name));
  return clean;
}

/** Mount points at or under `dir`, deepest first (mountinfo escapes spaces as \040). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

/** A /24 in 10.244.0.0/16 that no address or route of this host overlaps (other nodes may run). */
export function freeSubnet(): number {
  const used = execFileSync(IP, ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })
    + execFileSync(IP, ['-4', 'addr', 'show'], { encoding: 'utf8' });
  for (let i = 0; i < 50; i++) {
    const n = 1 + (randomBytes(1)[0]! % 250);
    if (!used.includes(`10.244.${n}.`)) return n;
  }
  throw new Error('no free 10.244.x.0/24 on this host');
}

/** How many addresses of the host are in 10.244.n.0/24 (more than ours: another node took it at the same moment). */
export function subnetOwners(n: number): number {
  return execFileSync(IP, ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' })
    .split('\n').filter((l) => l.includes(` 10.244.${n}.`)).length;
}

/** Processes whose command line names this socket (containerd's shims for our tasks). */
export function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(needle)) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}

export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
