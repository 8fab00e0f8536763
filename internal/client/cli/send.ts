// `msrp send`: authenticate to a relay (or connect straight to the peer), send a text or a
// file to the path `msrp listen` printed, with progress on stderr, and print the outcome.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { connectEndpoint, type MsrpEndpoint } from '../endpoint.ts';
import { fileHeaders, sha256File } from '../file-meta.ts';
import { formatBytes, formatRate, ProgressReporter } from '../progress.ts';
import type { MsrpHeader } from '../../msrp/frame.ts';
import { splitPath } from '../../msrp/headers.ts';
import { connectAndAuth, connectOptions, EXIT_FAILED, EXIT_OK, parseCount, parseSize, RELAY_HELP, RELAY_OPTIONS, UsageError } from './common.ts';
import type { CommandContext } from './listen.ts';

export const SEND_HELP = `Usage: msrp send --relay (msrps://HOST:PORT | DOMAIN) --user NAME --to "PATH" (--text TEXT | --file FILE) [options]
       msrp send --to "msrp(s)://peer..." (--text TEXT | --file FILE) [options]      (no relay)

Sends one message to PATH, the line \`msrp listen\` printed after "path:". Through a relay
the To-Path is this relay's Use-Path followed by PATH (RFC 4976 §6), so the receiver may
use the same relay or another one. A file travels with Content-Disposition (name, size)
and Content-Digest (SHA-256), which the receiver checks.

Options:
  --to PATH              the receiver's path (space-separated URIs; quote it)
  --text TEXT            send TEXT as text/plain
  --file FILE            send FILE (streamed from disk, any size)
  --content-type TYPE    media type (default text/plain for --text, application/octet-stream for --file)
  --chunk-size SIZE      bytes per SEND chunk (default 256KiB; e.g. 64KiB, 1MiB)
  --window N             chunks in flight awaiting their 200 (default 8)
  --no-report            do not ask for a success REPORT (the result then says "sent", not "delivered")
  --ca FILE, --insecure  TLS trust for a direct peer too
${RELAY_HELP}
Example:
  msrp send --relay msrps://relay.example.com:2855 --user alice --password-file ~/.msrp-pw \\
            --to "msrps://relay.example.com:2855/s1;tcp msrps://10.0.0.5:50123/x9;tcp" --file movie.mkv
`;

export async function sendCommand(args: string[], io: CommandContext): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      ...RELAY_OPTIONS,
      to: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string', short: 'f' },
      'content-type': { type: 'string' },
      'chunk-size': { type: 'string' },
      window: { type: 'string' },
      'no-report': { type: 'boolean' },
    },
    strict: true,
  });
  if (v.help === true) {
    io.stdout.write(SEND_HELP);
    return EXIT_OK;
  }
  if (v.to === undefined) throw new UsageError('--to is required: the path printed by `msrp listen`');
  const peerPath = splitPath(v.to.replace(/^path:\s*/, ''));
  if (peerPath === undefined || !Array.isArray(peerPath)) throw new UsageError(`--to is not a list of msrp:/msrps: URIs: ${v.to}`);
  if ((v.text === undefined) === (v.file === undefined)) throw new UsageError('give exactly one of --text and --file');
  const chunkSize = v['chunk-size'] === undefined ? 256 * 1024 : parseSize(v['chunk-size']);
  const window = parseCount(v.window, 'window') ?? 8;

  let size: number;
  let headers: MsrpHeader[] = [];
  let label: string;
  if (v.file !== undefined) {
    const st = await stat(v.file).catch((err: Error) => {
      throw new UsageError(`cannot read --file: ${err.message}`);
    });
    if (!st.isFile()) throw new UsageError(`--file ${v.file} is not a regular file`);
    size = st.size;
    label = basename(v.file);
    io.stderr.write(`msrp: hashing ${label} (${formatBytes(size)})...\n`);
    headers = fileHeaders({ name: label, size, sha256: await sha256File(v.file) });
  } else {
    size = Buffer.byteLength(v.text!);
    label = 'text';
  }

  let ep: MsrpEndpoint;
  if (v.relay !== undefined) {
    const r = await connectAndAuth(v, io, {});
    if (typeof r === 'number') return r;
    ep = r;
  } else {
    // No relay: connect to the peer named first in the path (RFC 4975 §5.4 active side).
    const c = await connectEndpoint(peerPath[0]!, connectOptions(v));
    if (!c.ok) {
      io.stderr.write(`msrp: cannot connect to ${peerPath[0]}: ${c.message}\n`);
      return EXIT_FAILED;
    }
    ep = c.endpoint;
  }

  const bar = new ProgressReporter(io.stderr, `sending ${label}`);
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  io.signal?.addEventListener('abort', onAbort);
  try {
    const r = await ep.send({
      toPath: [...ep.usePath, ...peerPath],
      ...(v.file !== undefined ? { stream: createReadStream(v.file, { highWaterMark: Math.min(chunkSize, 4 << 20) }), size } : { message: v.text! }),
      headers,
      ...(v['content-type'] === undefined ? {} : { contentType: v['content-type'] }),
      chunkSize,
      window,
      successReport: v['no-report'] !== true,
      signal: ac.signal,
      onProgress: (p) => {
        if (v.file !== undefined) bar.update(p.acknowledged, p.total);
      },
    });
    bar.finish();
    if (!r.ok) {
      io.stderr.write(`msrp: sending ${label} failed: ${r.message} (status ${r.status}, ${formatBytes(r.acknowledged)} acknowledged)\n`);
      return EXIT_FAILED;
    }
    const secs = (r.elapsedMs / 1000).toFixed(2);
    io.stdout.write(`${r.delivered ? 'delivered' : 'sent'} ${label}: ${r.bytes} bytes in ${secs} s (${formatRate(r.bytes, r.elapsedMs)})${r.delivered ? ', success REPORT received' : ''}\n`);
    return EXIT_OK;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    await ep.close();
  }
}
