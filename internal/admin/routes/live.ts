// Live views: relay sessions and room participants.
//
// Sessions are relay-wide (docs/relay.md "Relay-wide limits and views"): every replica of
// the relay publishes its sessions in the database (store.liveSessions), so the list comes
// from there, with each session's replica; the sessions of this pod's own engine get their
// live details (connection, bytes forwarded) from its control endpoint (engine-client.ts).
// When the database does not answer, the list is this engine's alone (`scope: "replica"`).
// DELETE closes a session on any replica: this engine's at once through its control
// endpoint (which binds 127.0.0.1 only, so other pods' cannot be called); another
// replica's through the database: the row is marked, the owner is told on the change feed
// (and polls at its heartbeat), closes the session and removes the row; we wait for that
// up to `deleteWaitMs` (204), else answer 202: requested, not yet confirmed.
// Participants come from the engine only; when it does not answer: 503 engine-unavailable.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RouteContext } from '../app.ts';
import type { EngineSessions } from '../engine-client.ts';
import { notFound, ProblemError } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../pagination.ts';
import { PageQuery, problems, RoomName, Text } from '../schemas.ts';
import { StoreError } from '../../store/errors.ts';
import type { LiveSessionView } from '../../store/live-sessions.ts';

const Session = Type.Object({
  id: Type.String(),
  uri: Type.Optional(Type.String({ description: 'The msrps: URI handed out in Use-Path (RFC 4976 §5.1).' })),
  user: Type.Optional(Type.String()),
  realm: Type.Optional(Type.String()),
  connection: Type.Optional(Type.String()),
  peer: Type.Optional(Type.String()),
  createdAt: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Type.String()),
  bytesForwarded: Type.Optional(Type.Number()),
  relay: Type.Optional(Type.String({ description: 'The relay (public host:port) holding the session.' })),
  replica: Type.Optional(Type.Integer({ description: 'The replica (pod ordinal) holding the client connection.' })),
  clientUri: Type.Optional(Type.String({ description: 'The client\'s own URI, from the From-Path of its AUTH.' })),
  deleteRequestedAt: Type.Optional(Type.String({ description: 'When a deletion was asked of the owning replica, until it closes the session.' })),
});

const SessionList = Type.Object({
  items: Type.Array(Session),
  nextCursor: Type.Optional(Type.String({ description: 'Pass as ?cursor= for the next page; absent on the last page.' })),
  scope: Type.Union([Type.Literal('relay'), Type.Literal('replica')], {
    description: '`relay`: the sessions of every replica (from the database); `replica`: the database did not answer, only this pod\'s engine\'s sessions.',
  }),
});

const rowView = (r: LiveSessionView, local: Map<string, Record<string, unknown>>): Record<string, unknown> => {
  const live = local.get(r.id);
  return {
    id: r.id, uri: r.uri, user: r.username, realm: r.realm, relay: r.relay, replica: r.ordinal, clientUri: r.clientUri, peer: r.peer,
    createdAt: r.createdAt.toISOString(), expiresAt: r.expiresAt.toISOString(),
    ...(r.deleteRequestedAt !== undefined ? { deleteRequestedAt: r.deleteRequestedAt.toISOString() } : {}),
    ...(live !== undefined ? { connection: live['connection'], bytesForwarded: live['bytesForwarded'] } : {}),
  };
};

const Participant = Type.Object({
  id: Type.String(),
  uri: Type.Optional(Type.String()),
  nickname: Type.Optional(Type.String()),
  joinedAt: Type.Optional(Type.String()),
});

const Id = Text(256, { minLength: 1 });

export const liveRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const engine = () => {
    if (!ctx.engine) throw new ProblemError('engine-unavailable', 'no engine control endpoint is configured (engine.controlUrl)');
    return ctx.engine;
  };
  const tags = ['live'];

  /** This pod's engine's sessions, or undefined when it does not answer (or none is configured). */
  const localSessions = async (): Promise<EngineSessions | undefined> => {
    if (!ctx.engine) return undefined;
    try {
      return await ctx.engine.listSessions();
    } catch (err) {
      if (err instanceof ProblemError && err.code === 'engine-unavailable') return undefined;
      throw err;
    }
  };
  const unavailable = (err: unknown): boolean => err instanceof StoreError && err.code === 'unavailable';

  app.get('/sessions', {
    schema: {
      tags, summary: 'Relay sessions open on every replica of the relay',
      querystring: Type.Object({ ...PageQuery, user: Type.Optional(Text(256)), realm: Type.Optional(Text(253)) }, { additionalProperties: false }),
      response: { 200: SessionList, ...problems() },
    },
  }, async (req) => {
    const local = await localSessions();
    const mine = local?.sessions.filter((s) => (req.query.user === undefined || s['user'] === req.query.user) && (req.query.realm === undefined || s['realm'] === req.query.realm)) ?? [];
    const withReplica = (s: Record<string, unknown>): Record<string, unknown> => ({ ...s, ...(local?.relay !== undefined ? { relay: local.relay } : {}), ...(local?.replica !== undefined ? { replica: local.replica } : {}) });
    const after = decodeCursor<string>(req.query.cursor, 'string');
    let page;
    try {
      page = await ctx.store.liveSessions.list(
        { relay: local?.relay, realm: req.query.realm, username: req.query.user, staleAfterSec: ctx.live.staleAfterSec },
        { limit: req.query.limit, after });
    } catch (err) {
      if (!unavailable(err) || local === undefined) throw err;
      req.log.warn({ err }, 'relay-wide session list unavailable: listing this replica only');
      return { items: mine.map(withReplica) as never[], scope: 'replica' as const };
    }
    const byId = new Map(mine.map((s) => [String(s['id']), s]));
    const items = page.items.map((r) => rowView(r, local?.relay === r.relay && local.replica === r.ordinal ? byId : new Map<string, Record<string, unknown>>()));
    if (after === undefined && page.next === undefined) {
      // The whole list fits one page: this engine's sessions the table lacks (their write
      // is still queued, or the engine lost the database while we did not) are shown too.
      const listed = new Set(page.items.map((r) => r.id));
      for (const s of mine) if (!listed.has(String(s['id']))) items.push(withReplica(s));
    }
    return { items: items as never[], scope: 'relay' as const, ...(page.next !== undefined ? { nextCursor: encodeCursor(page.next) } : {}) };
  });

  app.delete('/sessions/:id', {
    schema: {
      tags, summary: 'Close a relay session, on whichever replica holds it', params: Type.Object({ id: Id }),
      response: { 202: Type.Null({ description: 'Asked of the replica holding it, which has not confirmed yet.' }), 204: Type.Null(), ...problems(404) },
    },
  }, async (req, reply) => {
    const id = req.params.id;
    const done = async (status: 202 | 204, replica: number | undefined) => {
      await ctx.audit(req, 'session.delete', `/v1/sessions/${id}`, replica !== undefined ? { replica } : undefined);
      return reply.code(status).send(null);
    };
    let engineAnswered = false;
    if (ctx.engine) {
      try {
        if (await ctx.engine.deleteSession(id)) return done(204, undefined);
        engineAnswered = true;
      } catch (err) {
        if (!(err instanceof ProblemError && err.code === 'engine-unavailable')) throw err;
      }
    }
    let row: LiveSessionView | undefined;
    try {
      row = await ctx.store.liveSessions.requestDelete(id, { staleAfterSec: ctx.live.staleAfterSec });
    } catch (err) {
      // Not ours, and no way to ask the others: say which part is missing.
      if (unavailable(err) && !engineAnswered && ctx.engine) throw new ProblemError('engine-unavailable', 'neither the engine nor the database answered; retry later', { cause: err });
      throw err;
    }
    if (row === undefined) throw notFound(`session ${id}`);
    const until = Date.now() + ctx.live.deleteWaitMs;
    while (Date.now() < until) {
      if (!(await ctx.store.liveSessions.exists(row.relay, id))) return done(204, row.ordinal);
      await new Promise((r) => setTimeout(r, 50));
    }
    req.log.warn({ session: id, replica: row.ordinal }, 'session deletion requested; the replica holding it has not confirmed yet');
    return done(202, row.ordinal);
  });

  app.get('/rooms/:name/participants', {
    schema: { tags, summary: 'Participants now in a room', params: Type.Object({ name: RoomName }), response: { 200: Type.Object({ items: Type.Array(Participant) }), ...problems(404) } },
  }, async (req) => {
    const list = await engine().listParticipants(req.params.name);
    if (list === undefined) throw notFound(`room ${req.params.name} on the engine`);
    return { items: list as never[] };
  });

  app.delete('/rooms/:name/participants/:id', {
    schema: { tags, summary: 'Remove a participant from a room', params: Type.Object({ name: RoomName, id: Id }), response: { 204: Type.Null(), ...problems(404) } },
  }, async (req, reply) => {
    if (!(await engine().removeParticipant(req.params.name, req.params.id))) throw notFound(`participant ${req.params.id} in room ${req.params.name}`);
    await ctx.audit(req, 'participant.remove', `/v1/rooms/${req.params.name}/participants/${req.params.id}`);
    return reply.code(204).send(null);
  });
  done();
};
