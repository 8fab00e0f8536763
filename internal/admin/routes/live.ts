// Live views from the engine's control endpoint (engine-client.ts): relay sessions and
// room participants. Nothing is stored; when the engine does not answer: 503
// engine-unavailable.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RouteContext } from '../app.ts';
import { notFound, ProblemError } from '../errors.ts';
import { problems, RoomName, Text } from '../schemas.ts';

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
});

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

  app.get('/sessions', {
    schema: { tags, summary: 'Relay sessions now open on this replica', response: { 200: Type.Object({ items: Type.Array(Session) }), ...problems() } },
  }, async () => ({ items: await engine().listSessions() as never[] }));

  app.delete('/sessions/:id', {
    schema: { tags, summary: 'Remove a relay session', params: Type.Object({ id: Id }), response: { 204: Type.Null(), ...problems(404) } },
  }, async (req, reply) => {
    if (!(await engine().deleteSession(req.params.id))) throw notFound(`session ${req.params.id}`);
    await ctx.audit(req, 'session.delete', `/v1/sessions/${req.params.id}`);
    return reply.code(204).send(null);
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
