// The child processes of the e2e cluster and node (etcd, kube-apiserver, containerd, kubelet,
// ...): each writes to its own log file, is SIGKILLed if the test process exits without
// stopping it, and its log tail goes into the error when a start fails.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export type Proc = { name: string; child: ChildProcess; exited: Promise<void>; logPath: string; isRunning(): boolean };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every launched process not yet terminated: the exit hook's list. */
const live = new Set<Proc>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test process dies without stop(): do not leave etcd, the apiserver
  // or the kubelet behind.
  process.once('exit', () => {
    for (const p of live) if (p.isRunning()) p.child.kill('SIGKILL');
  });
}

/** Starts `bin` with stdout and stderr appended to logPath. */
export function launch(name: string, bin: string, args: string[], logPath: string): Proc {
  installExitHook();
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let running = true;
  // 'exit' is emitted after Node has reaped the child (waitpid), so its ports are closed.
  const exited = new Promise<void>((resolve) => {
    const done = () => {
      running = false;
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  const p: Proc = { name, child, exited, logPath, isRunning: () => running };
  live.add(p);
  return p;
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
export async function terminate(p: Proc, graceMs: number): Promise<void> {
  if (p.isRunning()) {
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }
  live.delete(p);
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The last lines of each process's log, headed by its name: for the error of a failed start. */
export async function logTails(procs: Proc[], lines: number): Promise<string> {
  const logs = await Promise.all(procs.map(async (p) => `--- ${p.name} (${p.logPath}) ---\n${await tail(p.logPath, lines)}`));
  return logs.join('\n');
}
