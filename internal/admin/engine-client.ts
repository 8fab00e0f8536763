// The engine's control endpoint (internal/relay/http.ts), reached with undici on
// 127.0.0.1 inside the pod. Live state only: nothing here touches the database.
//   GET    /sessions                         -> { relay?, replica?, sessions: [...] }
//   DELETE /sessions/:id                     -> 204 | 404
//   GET    /rooms/:name/participants         -> { participants: [...] } | 404 (chat focus; pending)
//   DELETE /rooms/:name/participants/:id     -> 204 | 404
// Unreachable or timing out: ProblemError engine-unavailable (503); any other answer
// than the ones above: engine-error (502).
import { Agent, request } from 'undici';
import { ProblemError } from './errors.ts';
import type { AdminMetrics } from './metrics.ts';

/** The engine's own sessions, and which relay (public host:port) and replica it is, when it says. */
export interface EngineSessions {
  relay?: string | undefined;
  replica?: number | undefined;
  sessions: Record<string, unknown>[];
}

export interface EngineClient {
  listSessions(): Promise<EngineSessions>;
  /** false when the engine has no such session. */
  deleteSession(id: string): Promise<boolean>;
  /** undefined when the engine has no such room. */
  listParticipants(room: string): Promise<Record<string, unknown>[] | undefined>;
  removeParticipant(room: string, id: string): Promise<boolean>;
  close(): Promise<void>;
}

export function createEngineClient(o: { baseUrl: string; timeoutMs?: number; metrics: AdminMetrics }): EngineClient {
  const timeout = o.timeoutMs ?? 3000;
  const agent = new Agent({ connectTimeout: timeout, headersTimeout: timeout, bodyTimeout: timeout });
  const base = o.baseUrl.replace(/\/+$/, '');

  async function call(operation: string, method: 'GET' | 'DELETE', path: string): Promise<{ status: number; json: unknown }> {
    let status: number;
    let text: string;
    try {
      const res = await request(base + path, { method, dispatcher: agent, headers: { accept: 'application/json' } });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      o.metrics.engineRequests.inc({ operation, outcome: 'unreachable' });
      throw new ProblemError('engine-unavailable', 'the engine control endpoint did not answer; retry later', { cause: e });
    }
    o.metrics.engineRequests.inc({ operation, outcome: String(status) });
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      throw new ProblemError('engine-error', `the engine answered ${status} with a body that is not JSON`);
    }
    return { status, json };
  }

  const listOf = (json: unknown, key: string): Record<string, unknown>[] => {
    const list = (json as Record<string, unknown> | undefined)?.[key];
    if (!Array.isArray(list)) throw new ProblemError('engine-error', `the engine answer has no ${key} list`);
    return list as Record<string, unknown>[];
  };
  const unexpected = (status: number): never => {
    throw new ProblemError('engine-error', `the engine answered ${status}`);
  };

  return {
    async listSessions() {
      const r = await call('list-sessions', 'GET', '/sessions');
      if (r.status !== 200) return unexpected(r.status);
      const body = r.json as Record<string, unknown> | undefined;
      return {
        sessions: listOf(r.json, 'sessions'),
        ...(typeof body?.['relay'] === 'string' ? { relay: body['relay'] } : {}),
        ...(typeof body?.['replica'] === 'number' ? { replica: body['replica'] } : {}),
      };
    },
    async deleteSession(id) {
      const r = await call('delete-session', 'DELETE', `/sessions/${encodeURIComponent(id)}`);
      return r.status === 204 || r.status === 200 ? true : r.status === 404 ? false : unexpected(r.status);
    },
    async listParticipants(room) {
      const r = await call('list-participants', 'GET', `/rooms/${encodeURIComponent(room)}/participants`);
      return r.status === 200 ? listOf(r.json, 'participants') : r.status === 404 ? undefined : unexpected(r.status);
    },
    async removeParticipant(room, id) {
      const r = await call('remove-participant', 'DELETE', `/rooms/${encodeURIComponent(room)}/participants/${encodeURIComponent(id)}`);
      return r.status === 204 || r.status === 200 ? true : r.status === 404 ? false : unexpected(r.status);
    },
    close: () => agent.close(),
  };
}
