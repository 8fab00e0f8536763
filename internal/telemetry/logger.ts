// The pino logger factory (STYLE.md "pino"): structured fields, never interpolation;
// one child logger per connection / session / room with the bound fields below.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Field names bound on child loggers, so that every line about one connection,
 * session, peer, room or realm can be found by the same key everywhere:
 * `conn` a connection id, `session` an MSRP session id (RFC 4975 §6), `peer` the
 * remote address or URI, `room` a chat room (RFC 7701), `realm` an auth realm.
 */
export interface LogBindings {
  conn?: string;
  session?: string;
  peer?: string;
  room?: string;
  realm?: string;
}

/**
 * Redacted wherever they appear at the top level or one/two levels down. Digest
 * `Authorization` headers (RFC 7616 §3.4) carry a response computed from the password;
 * HA1 digests are password equivalents (RFC 7616 §5.2) and are redacted too.
 */
const SECRET_KEYS = [
  'authorization', 'Authorization', 'proxyAuthorization', 'password', 'token', 'secret',
  'ha1', 'ha1Md5', 'ha1Sha256', 'secretEnc', 'cookie',
];
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
export const REDACTED = '[redacted]';

export class TelemetryError extends Error {
  readonly code: 'invalid-level' | 'invalid-metric';
  constructor(code: TelemetryError['code'], message: string) {
    super(message);
    this.name = 'TelemetryError';
    this.code = code;
  }
}

export interface LoggerOptions {
  /** Explicit level (from config). When absent: env `LOG_LEVEL`, then `info`. */
  level?: string;
  /** Binary or component name, bound as `name`. */
  name: string;
  /** Human-readable single-line output for terminals (`npm start`); JSON lines otherwise. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  destination?: DestinationStream;
  env?: NodeJS.ProcessEnv;
}

/** The effective level: explicit option, else `LOG_LEVEL`, else `info`. Unknown names are errors. */
export function resolveLogLevel(level: string | undefined, env: NodeJS.ProcessEnv = process.env): LevelWithSilent {
  const candidate = (level ?? env['LOG_LEVEL'] ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(candidate)) {
    throw new TelemetryError('invalid-level', `log level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(candidate)})`);
  }
  return candidate as LevelWithSilent;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = resolveLogLevel(options.level, options.env);
  let destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  if (options.pretty === true) destination = prettyStream(destination);
  return pino(
    {
      name: options.name,
      level,
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A child logger with the conventional bound fields (see LogBindings). */
export function childLogger(parent: Logger, bindings: LogBindings): Logger {
  return parent.child(bindings);
}

/**
 * Minimal human format: `12:00:00.000 INFO  name: msg key=value ...`. Deliberately tiny
 * (no pino-pretty dependency); it reformats the already-redacted JSON line.
 */
function prettyStream(out: DestinationStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.length > 0) out.write(formatPrettyLine(line) + '\n');
      }
      done();
    },
  });
}

export function formatPrettyLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, name, msg, pid: _pid, hostname: _h, ...rest } = rec;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const lvl = (typeof level === 'string' ? level : JSON.stringify(level)).toUpperCase().padEnd(5);
  const who = typeof name === 'string' ? `${name}: ` : '';
  const text = typeof msg === 'string' ? msg : '';
  return `${clock} ${lvl} ${who}${text}${fields ? ' ' + fields : ''}`;
}
