// sipp (Debian `sip-tester`, 3.6) as a real SIP user agent for e2e tests (docs/architecture.md §6.3):
// runs one scenario to completion in the foreground and reports its exit code
// (0: every call succeeded, 1: at least one failed, 97: stopped by command, 99: no call
// processed, 255/254: fatal or socket error), output, error trace and final statistics.
// Install: .ci/peers.d/31-sipp.sh. Note that `sipp -v` exits 99: don't use it as a probe.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The scenarios next to this file. */
export const SCENARIOS = {
  inviteRoom: join(import.meta.dirname, 'invite-room.xml'),
  passiveRoom: join(import.meta.dirname, 'passive-room.xml'),
  reinviteRoom: join(import.meta.dirname, 'reinvite-room.xml'),
  referInvite: join(import.meta.dirname, 'refer-invite.xml'),
} as const;

/** $SIPP_BIN, else `sipp` from /usr/bin. */
export function sippBin(): string {
  return process.env.SIPP_BIN ?? '/usr/bin/sipp';
}

export function sippAvailable(): boolean {
  try {
    accessSync(sippBin(), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface SippOptions {
  /** Path to the XML scenario (absolute, or relative to e2e/sipp/). */
  scenario: string;
  /** host:port of the SIP peer. */
  target: string;
  /** sipp -t: u1 (UDP, one socket) or t1 (TCP, one connection). Default u1. */
  transport?: 'u1' | 't1';
  /** The request-URI user part, sipp -s. Default 'room'. */
  service?: string;
  /** Scenario keys (-key NAME VALUE); invite-room.xml's msrp_port and msrp_sess get defaults. */
  keys?: Record<string, string>;
  /** Number of calls (-m). Default 1. */
  calls?: number;
  /** Global timeout in seconds (-timeout). Default 20. */
  timeoutSec?: number;
  /** More sipp arguments, appended last. */
  extraArgs?: string[];
  /** Keep the working folder (error trace, messages, stats). */
  keepDir?: boolean;
}

export interface SippResult {
  /** sipp's exit code (0 = all calls succeeded); null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The -trace_err file: unexpected messages and failed checks. */
  errors: string;
  /** The -trace_msg file: every SIP message sent and received. */
  messages: string;
  /** The last row of the -trace_stat CSV, by column name (e.g. SuccessfulCall(C), FailedCall(C)). */
  stats: Record<string, string>;
  /** The sipp command line, for failure messages. */
  argv: string[];
  dir: string;
}

/** A free UDP (and, likely, TCP) port on 127.0.0.1 for sipp's own SIP socket. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function parseStats(csv: string): Record<string, string> {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length < 2) return {};
  const names = lines[0]!.split(';');
  const values = lines[lines.length - 1]!.split(';');
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    if (n.length > 0) out[n] = values[i] ?? '';
  });
  return out;
}

async function readIf(path: string | undefined): Promise<string> {
  if (path === undefined) return '';
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Runs sipp once, in the foreground, in a temp folder; never rejects for a failed call. The
 * local ports are free when chosen but another process may take one before sipp binds it
 * (seen in CI with TCP transport): sipp then fails before sending anything, and it is run
 * again on new ports.
 */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  for (let attempt = 1; ; attempt++) {
    const r = await runSippOnce(o);
    if (attempt >= 3 || !/Unable to bind (main|control) socket/.test(r.errors + r.stderr)) return r;
  }
}

async function runSippOnce(o: SippOptions): Promise<SippResult> {
  const dir = await mkdtemp(join(tmpdir(), 'msrp-sipp-'));
  const scenario = isAbsolute(o.scenario) ? o.scenario : join(import.meta.dirname, o.scenario);
  const keys: Record<string, string> = { msrp_port: '2855', msrp_sess: 'sipp', ...o.keys };
  const [sipPort, controlPort] = [await freeUdpPort(), await freeUdpPort()];
  const argv = [
    o.target,
    '-sf', scenario,
    '-s', o.service ?? 'room',
    '-t', o.transport ?? 'u1',
    '-i', '127.0.0.1',
    '-p', String(sipPort),
    '-cp', String(controlPort),
    '-m', String(o.calls ?? 1),
    '-timeout', `${o.timeoutSec ?? 20}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-trace_msg', '-message_file', join(dir, 'messages.log'),
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1',
    '-trace_logs', '-log_file', join(dir, 'logs.log'),
  ];
  for (const [k, v] of Object.entries(keys)) argv.push('-key', k, v);
  argv.push(...(o.extraArgs ?? []));

  const child = spawn(sippBin(), argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    // The screen is redrawn on every refresh: keep the tail only.
    stdout = (stdout + d).slice(-65536);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-65536);
  });
  // sipp honours -timeout itself; this is the backstop for a wedged process.
  const killTimer = setTimeout(() => child.kill('SIGKILL'), ((o.timeoutSec ?? 20) + 10) * 1000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve({ code: c, signal: s }));
  }).finally(() => clearTimeout(killTimer));

  const files = await readdir(dir).catch(() => [] as string[]);
  const result: SippResult = {
    code, signal, stdout, stderr, argv, dir,
    errors: await readIf(join(dir, 'errors.log')),
    messages: await readIf(join(dir, 'messages.log')),
    stats: parseStats(await readIf(files.includes('stats.csv') ? join(dir, 'stats.csv') : undefined)),
  };
  if (!o.keepDir) await rm(dir, { recursive: true, force: true });
  return result;
}
