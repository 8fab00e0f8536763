// `msrp listen`: authenticate to a relay (or listen directly), print the path a sender
// needs, then receive: text goes to stdout, files into --out after their size and
// SHA-256 (Content-Digest) are checked.
import { mkdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { listenEndpoint, type MsrpEndpoint, type ReceivedMessage } from '../endpoint.ts';
import { formatBytes, ProgressReporter } from '../progress.ts';
import { connectAndAuth, EXIT_FAILED, EXIT_OK, parseCount, parseSize, RELAY_HELP, RELAY_OPTIONS, UsageError, type CliIo } from './common.ts';

export const LISTEN_HELP = `Usage: msrp listen --relay (msrps://HOST:PORT | DOMAIN) --user NAME [--password-file FILE] [options]
       msrp listen --bind HOST:PORT [--cert FILE --key FILE] [options]

Authenticates to the relay and prints one line on stdout:
  path: <URI> <URI>...
which is what the sender passes as --to. Then receives messages: text is printed on
stdout, files are saved into --out (named from Content-Disposition, checked against the
size and Content-Digest the sender declared).

Options:
  --out DIR              where files are saved (default: the current directory)
  --count N              exit after N messages (default: run until interrupted)
  --max-size SIZE        refuse files larger than SIZE (e.g. 10GiB)
  --bind HOST:PORT       no relay: accept connections directly (port 0 picks one)
  --cert FILE, --key FILE  TLS certificate and key for --bind (msrps)
${RELAY_HELP}
Example:
  MSRP_PASSWORD=secret msrp listen --relay msrps://relay.example.com:2855 --user bob --out ~/Downloads --count 1
`;

export interface CommandContext extends CliIo {
  readonly signal?: AbortSignal;
}

export async function listenCommand(args: string[], io: CommandContext): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      ...RELAY_OPTIONS,
      out: { type: 'string', short: 'o' },
      count: { type: 'string', short: 'n' },
      'max-size': { type: 'string' },
      bind: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
    strict: true,
  });
  if (v.help === true) {
    io.stdout.write(LISTEN_HELP);
    return EXIT_OK;
  }
  const count = parseCount(v.count, 'count');
  const out = v.out ?? '.';
  await mkdir(out, { recursive: true });
  const maxFileBytes = v['max-size'] === undefined ? undefined : parseSize(v['max-size']);
  const bars = new Map<string, ProgressReporter>();
  const endpointOptions = {
    saveFilesTo: out,
    ...(maxFileBytes === undefined ? {} : { maxFileBytes }),
    onProgress: (p: { messageId: string; received: number; total: number | undefined; name?: string }) => {
      if (p.name === undefined) return;
      let bar = bars.get(p.messageId);
      if (bar === undefined) bars.set(p.messageId, (bar = new ProgressReporter(io.stderr, `receiving ${p.name}`)));
      bar.update(p.received, p.total);
    },
    onWarning: (m: string) => io.stderr.write(`msrp: ${m}\n`),
  };

  let ep: MsrpEndpoint;
  if (v.bind !== undefined) {
    if (v.relay !== undefined) throw new UsageError('--bind and --relay exclude each other');
    const m = /^(.*):(\d+)$/.exec(v.bind);
    if (m === null) throw new UsageError('--bind wants HOST:PORT, e.g. 127.0.0.1:2855');
    if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('--cert and --key go together');
    const tls = v.cert === undefined ? undefined : { cert: await readFile(v.cert), key: await readFile(v.key!) };
    ep = await listenEndpoint({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), ...(tls === undefined ? {} : { tls }), ...endpointOptions });
  } else {
    const r = await connectAndAuth(v, io, endpointOptions);
    if (typeof r === 'number') return r;
    ep = r;
  }

  io.stdout.write(`path: ${ep.path.join(' ')}\n`);
  io.stderr.write(`msrp: waiting for ${count === undefined ? 'messages' : `${count} message${count === 1 ? '' : 's'}`}; on the sending side run:\n` +
    `  msrp send ${v.relay !== undefined ? '--relay <its relay> --user <name> ' : ''}--to "${ep.path.join(' ')}" --file <FILE>\n`);

  const onAbort = (): void => void ep.close();
  io.signal?.addEventListener('abort', onAbort);
  let received = 0;
  let status = EXIT_OK;
  try {
    while (count === undefined || received < count) {
      const m = await ep.nextMessage();
      if (m === undefined) {
        if (io.signal?.aborted !== true) {
          io.stderr.write('msrp: the connection closed\n');
          status = EXIT_FAILED;
        }
        break;
      }
      received++;
      bars.get(m.messageId)?.finish();
      bars.delete(m.messageId);
      if (!printMessage(m, io)) status = EXIT_FAILED;
    }
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    await ep.close();
  }
  return status;
}

/** Prints one message; false when a file failed its checks. */
function printMessage(m: ReceivedMessage, io: CliIo): boolean {
  const from = m.fromPath[m.fromPath.length - 1] ?? '?';
  if (m.file !== undefined) {
    const f = m.file;
    if (f.digest === 'mismatch') {
      io.stderr.write(`msrp: file ${f.name} from ${from} is CORRUPT (${formatBytes(m.size)}, sha-256 ${f.sha256} differs from what the sender declared); kept as ${f.path}\n`);
      io.stdout.write(`file-corrupt: ${f.path} ${m.size} sha256=${f.sha256}\n`);
      return false;
    }
    const check = f.digest === 'verified' ? 'sha-256 verified' : 'no digest declared by the sender';
    io.stderr.write(`msrp: received file ${f.name} from ${from}: ${formatBytes(m.size)}, ${check}\n`);
    io.stdout.write(`file: ${f.path} ${m.size} sha256=${f.sha256}${f.digest === 'verified' ? ' verified' : ''}\n`);
    return true;
  }
  const text = m.body?.toString('utf8') ?? '';
  io.stderr.write(`msrp: message from ${from} (${m.contentType ?? 'no type'}, ${m.size} bytes):\n`);
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return true;
}
