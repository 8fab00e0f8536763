// Tests only: runs `cmd/msrp.ts` as its own process and collects its output (killed after 30 s).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const MSRP = join(import.meta.dirname, '..', '..', '..', 'cmd', 'msrp.ts');

export function runMsrp(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MSRP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}
