// The relay's admin API (internal/admin/routes/rooms.ts, live.ts) as the operator uses it:
// declarative, idempotent room sync.
//   PUT    /v1/rooms/{name}               the full desired room {uri, subject, policy}: the
//                                         admin's RoomSpec is strict, and it keeps its own
//                                         generation (bumped only when the spec changes)
//   DELETE /v1/rooms/{name}               404 counts as done
//   GET    /v1/rooms/{name}/participants  { items: [...] } for status.participants; 503 while
//                                         the engine's control endpoint does not answer
// Authenticated with a bearer token per relay, resolved at every reconcile (admin-token.ts):
// by default the relay's own `<relay>-admin-token` Secret, the admin's bootstrap token.
// Over HTTPS (docs/security.md "Admin API"): the admin API's certificate is verified against
// the CA bundle of the relay's `<relay>-admin-tls` Secret, which the operator itself keeps.
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';

/** The body of PUT /v1/rooms/{name} (the admin's RoomSpec). */
export interface AdminRoom {
  uri: string;
  subject?: string;
  policy: Record<string, unknown>;
}

/** What PUT answers (the admin's Room); 201 on creation, 200 otherwise. */
export interface StoredAdminRoom extends AdminRoom {
  name: string;
  generation: number;
}

/** The admin API could not be reached or answered 5xx: a condition and a retry, not a crash. */
export class AdminUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminUnreachableError';
  }
}

/** The admin API answered 4xx: the request is wrong (bad spec, bad token). */
export class AdminRejectedError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'AdminRejectedError';
    this.statusCode = statusCode;
  }
}

/** The relay's admin API has no token the operator could present (its token Secret is missing). */
export class AdminTokenMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminTokenMissingError';
  }
}

export type TokenSource = () => Promise<string | undefined>;

export function tokenFromFile(file: string): TokenSource {
  return async () => (await readFile(file, 'utf8')).trim();
}

/** `{name}` and `{namespace}` substituted, e.g. `http://{name}-admin.{namespace}.svc:8080`. */
export function adminBaseUrl(template: string, relay: { name: string; namespace: string }): string {
  return template.replaceAll('{name}', relay.name).replaceAll('{namespace}', relay.namespace).replace(/\/+$/, '');
}

/**
 * A relay's admin API: its base URL and, for https, the CA bundle (PEM) its certificate chains
 * to and the name the certificate must carry (the admin Service's, whatever host the URL names).
 */
export interface AdminTarget {
  readonly url: string;
  readonly ca?: string | undefined;
  readonly servername?: string | undefined;
}

export class AdminClient {
  readonly #dispatcher: Agent;
  /** One agent per CA bundle and name (a relay's, until its CA rolls over). */
  readonly #agents = new Map<string, Agent>();
  readonly #timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#dispatcher = new Agent({ connectTimeout: this.#timeoutMs, keepAliveTimeout: 30_000 });
  }

  #agentFor(ca: string | undefined, servername: string | undefined): Agent {
    if (ca === undefined) return this.#dispatcher;
    const key = `${servername ?? ''}\n${ca}`;
    let a = this.#agents.get(key);
    if (a === undefined) {
      // A renewed CA replaces the bundle: agents of bundles no longer used are dropped.
      if (this.#agents.size >= 64) for (const [k, old] of this.#agents) {
        this.#agents.delete(k);
        void old.close();
        break;
      }
      a = new Agent({ connectTimeout: this.#timeoutMs, keepAliveTimeout: 30_000, connect: { ca, minVersion: 'TLSv1.2', ...(servername === undefined ? {} : { servername }) } });
      this.#agents.set(key, a);
    }
    return a;
  }

  async #call(method: 'GET' | 'PUT' | 'DELETE', target: AdminTarget, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: unknown }> {
    const url = `${target.url}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await request(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher: this.#agentFor(target.ca, target.servername),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (e) {
      throw new AdminUnreachableError(`${method} ${url}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    if (res.statusCode >= 500) throw new AdminUnreachableError(`${method} ${url}: ${res.statusCode} ${text.slice(0, 300)}`);
    return { status: res.statusCode, json };
  }

  /** GET /readyz without a token (the probe is public): 200, or 503 naming what is down (DatabaseReady). */
  async readyz(target: AdminTarget, timeoutMs = 3000): Promise<{ status: number; text: string }> {
    const res = await request(`${target.url}/readyz`, { method: 'GET', dispatcher: this.#agentFor(target.ca, target.servername), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    return { status: res.statusCode, text: await res.body.text() };
  }

  static #detail(json: unknown): string {
    if (json && typeof json === 'object') {
      const p = json as { detail?: string; title?: string; message?: string };
      return p.detail ?? p.title ?? p.message ?? JSON.stringify(json).slice(0, 300);
    }
    return typeof json === 'string' ? json.slice(0, 300) : '';
  }

  async putRoom(target: AdminTarget, token: string | undefined, name: string, room: AdminRoom): Promise<StoredAdminRoom> {
    const { status, json } = await this.#call('PUT', target, `/v1/rooms/${encodeURIComponent(name)}`, token, room);
    if (status < 200 || status > 299) throw new AdminRejectedError(status, `PUT room ${name}: ${status} ${AdminClient.#detail(json)}`);
    return json as StoredAdminRoom;
  }

  /** true when deleted, false when it was not there. */
  async deleteRoom(target: AdminTarget, token: string | undefined, name: string): Promise<boolean> {
    const { status, json } = await this.#call('DELETE', target, `/v1/rooms/${encodeURIComponent(name)}`, token);
    if (status === 404) return false;
    if (status < 200 || status > 299) throw new AdminRejectedError(status, `DELETE room ${name}: ${status} ${AdminClient.#detail(json)}`);
    return true;
  }

  /** The number of participants; accepts a list, `{ participants: [...] }`, `{ items: [...] }` or `{ count }`. */
  async participantCount(target: AdminTarget, token: string | undefined, name: string): Promise<number> {
    const { status, json } = await this.#call('GET', target, `/v1/rooms/${encodeURIComponent(name)}/participants`, token);
    if (status < 200 || status > 299) throw new AdminRejectedError(status, `GET participants of ${name}: ${status} ${AdminClient.#detail(json)}`);
    if (Array.isArray(json)) return json.length;
    const o = (json ?? {}) as { participants?: unknown[]; items?: unknown[]; count?: number; total?: number };
    if (typeof o.count === 'number') return o.count;
    if (typeof o.total === 'number') return o.total;
    return (o.participants ?? o.items ?? []).length;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
    this.#agents.clear();
    await this.#dispatcher.close();
  }
}
