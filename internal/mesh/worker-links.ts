// Links between the workers of one relay replica (docs/relay.md "Workers"): the processes
// that share the replica's listeners, each owning the sessions it minted
// (ownership.ts workerOf). A frame for a session another worker owns travels to it on a
// persistent link exactly as a frame for another replica's session travels on the mesh
// (links.ts): unchanged but for its transaction id, no URI added to any path.
//
// Transport and identity (docs/security.md "Workers"): a Unix domain socket per worker,
// `w<k>.sock`, in a private folder (mode 0700) the supervising process creates, so only
// processes of the relay's own user can reach it, and nothing crosses a network: no TLS.
// Every other container of the pod may share that user and the folder's volume, so a link
// also opens with a hello line carrying a random secret the supervisor hands its workers
// (never written to disk): an accepting worker adopts a connection only once its hello
// names a worker of this replica and carries that secret, and answers OK.
import { timingSafeEqual } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Connection } from '../transport/connection.ts';
import { MAX_WORKERS } from './ownership.ts';
import { LinkPool } from './link-pool.ts';

export interface WorkerLinkOptions {
  /** This worker's number (the w of `w<w>-` session ids; 0 mints none). */
  readonly index: number;
  /** Workers of this replica. */
  readonly count: number;
  /** The private folder holding every worker's socket. */
  readonly socketDir: string;
  /** Shared by the workers of one supervisor (hex); a link must present it. */
  readonly secret: string;
  readonly connectTimeoutMs: number;
}

export class WorkerLinkError extends Error {
  readonly code: 'unreachable' | 'refused' | 'self' | 'no-such-worker' | 'closed';
  constructor(code: WorkerLinkError['code'], message: string) {
    super(message);
    this.name = 'WorkerLinkError';
    this.code = code;
  }
}

export interface WorkerLinksDeps {
  readonly options: WorkerLinkOptions;
  /** Wraps a connected socket into a relay Connection (handlers attached). */
  adopt(socket: Socket, direction: 'inbound' | 'outbound', worker: number): Connection;
  readonly log: Logger;
  /** A link attempt failed (the request that wanted it gets 481), or an inbound hello was refused. */
  onFailure(reason: WorkerLinkError['code'] | 'bad-hello', worker: number | undefined, message: string): void;
}

const HELLO = 'MSRP-WORKER';
const OK = 'OK\r\n';
/** A hello line is `MSRP-WORKER <index> <secret>\r\n`: far shorter than this. */
const MAX_HELLO_BYTES = 256;

/** The socket path of worker `index`. */
export function workerSocketPath(socketDir: string, index: number): string {
  return join(socketDir, `w${index}.sock`);
}

export class WorkerLinks {
  readonly #d: WorkerLinksDeps;
  readonly #secret: Buffer;
  readonly #links = new LinkPool();
  #server: Server | undefined;

  constructor(deps: WorkerLinksDeps) {
    const o = deps.options;
    if (!Number.isInteger(o.count) || o.count < 2 || o.count > MAX_WORKERS) throw new RangeError(`workers ${o.count} out of range 2..${MAX_WORKERS}`);
    if (!Number.isInteger(o.index) || o.index < 0 || o.index >= o.count) throw new RangeError(`worker ${o.index} out of range 0..${o.count - 1}`);
    this.#d = deps;
    this.#secret = Buffer.from(o.secret, 'hex');
    if (this.#secret.length < 16) throw new RangeError('the workers\' link secret must be at least 16 bytes');
  }

  get index(): number {
    return this.#d.options.index;
  }

  get count(): number {
    return this.#d.options.count;
  }

  /** Open outbound links. */
  get size(): number {
    return this.#links.size;
  }

  /** Accepts the other workers' links on this worker's socket. */
  async listen(): Promise<void> {
    const o = this.#d.options;
    const path = workerSocketPath(o.socketDir, o.index);
    // A restarted worker finds its predecessor's socket file: nothing listens on it any more.
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    const server = createServer((socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: in a node:cluster worker the socket is this worker's own, not one the
      // supervisor shares out (that is for the client listeners).
      server.listen({ path, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  #accept(socket: Socket): void {
    const { log } = this.#d;
    let got: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => refuse('no hello in time'), this.#d.options.connectTimeoutMs);
    const refuse = (why: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      this.#d.onFailure('bad-hello', undefined, why);
      log.warn({ reason: why }, 'worker link refused');
      socket.destroy();
    };
    const onData = (b: Buffer): void => {
      got = got.length === 0 ? b : Buffer.concat([got, b]);
      const end = got.indexOf('\r\n');
      if (end < 0) {
        if (got.length > MAX_HELLO_BYTES) refuse('hello too long');
        return;
      }
      const [word, index, secret] = got.subarray(0, end).toString('latin1').split(' ');
      const k = Number(index);
      const presented = Buffer.from(secret ?? '', 'hex');
      if (word !== HELLO || !Number.isInteger(k) || k < 0 || k >= this.count || k === this.index) return refuse(`hello names no other worker (${String(index)})`);
      if (presented.length !== this.#secret.length || !timingSafeEqual(presented, this.#secret)) return refuse(`worker ${k}: wrong secret`);
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      const rest = got.subarray(end + 2);
      if (rest.length > 0) socket.unshift(rest);
      socket.write(OK);
      const conn = this.#d.adopt(socket, 'inbound', k);
      conn.log.info({ worker: k }, 'worker link accepted');
      socket.resume();
    };
    socket.on('data', onData);
    // Gone before its hello: nothing to count. (After adoption the Connection handles errors.)
    const gone = (): void => clearTimeout(timer);
    socket.on('error', gone);
    socket.once('close', gone);
  }

  /** The open link to worker `k`, if there is one (no promise: the forwarder's common case). */
  openLink(k: number): Connection | undefined {
    return this.#links.open(k);
  }

  /** The link to worker `k`, connecting when there is none. */
  get(k: number): Promise<Connection> {
    const open = this.#links.open(k);
    if (open !== undefined) return Promise.resolve(open);
    const fail = (code: WorkerLinkError['code'], message: string): Promise<Connection> => {
      const err = new WorkerLinkError(code, message);
      this.#d.onFailure(code, k, message);
      return Promise.reject(err);
    };
    if (this.#links.closed) return fail('closed', 'the worker links are closed');
    if (k === this.index) return fail('self', `worker ${k} is this worker`);
    // An id naming a worker this replica does not have: no socket to try.
    if (!Number.isInteger(k) || k < 0 || k >= this.count) return fail('no-such-worker', `no worker ${k} (workers: ${this.count})`);
    return this.#links.connecting(k, () => this.#connect(k), (err: WorkerLinkError) => this.#d.onFailure(err.code, k, err.message));
  }

  #connect(k: number): Promise<Connection> {
    const o = this.#d.options;
    const path = workerSocketPath(o.socketDir, k);
    return new Promise<Connection>((resolve, reject) => {
      const socket = netConnect({ path });
      let got = '';
      // Workers answer in microseconds; one being restarted does not answer at all.
      const timer = setTimeout(() => onError(new Error('connect timeout')), o.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new WorkerLinkError(got === '' ? 'unreachable' : 'refused', `worker ${k} (${path}): ${err.message}`));
      };
      const onData = (b: Buffer): void => {
        got += b.toString('latin1');
        if (got.length < OK.length) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (!got.startsWith(OK)) return onError(new Error('link refused'));
        if (this.#links.closed) {
          socket.destroy();
          reject(new WorkerLinkError('closed', 'the worker links are closed'));
          return;
        }
        socket.pause();
        if (got.length > OK.length) socket.unshift(Buffer.from(got.slice(OK.length), 'latin1'));
        const conn = this.#d.adopt(socket, 'outbound', k);
        this.#links.add(k, conn, socket);
        this.#d.log.info({ worker: k }, 'worker link up');
        socket.resume();
        resolve(conn);
      };
      const onClose = (): void => onError(new Error('closed during the hello'));
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.on('data', onData);
      socket.once('connect', () => socket.write(`${HELLO} ${o.index} ${o.secret}\r\n`));
    });
  }

  /** Stops accepting links (drain: the other workers' frames still arrive on the open ones). */
  closeListener(): void {
    this.#server?.close();
  }

  closeAll(): void {
    this.#links.closeAll();
  }
}
