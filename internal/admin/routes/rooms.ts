// /v1/rooms: chat rooms (RFC 7701), written declaratively. PUT /v1/rooms/{name} is
// idempotent: the spec with defaults filled in is compared with the stored one; the
// same spec answers 200 with the same generation, a different one bumps the generation,
// the first PUT creates the room (201). The generation is the ETag, so a client may
// PUT with If-Match to avoid overwriting someone else's change (412 otherwise).
// The policy mirrors the ChatRoom CRD (internal/operator/api/chatroom.ts).
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import type { Room as StoredRoom } from '../../store/rooms.ts';
import type { RouteContext } from '../app.ts';
import { notFound, ProblemError } from '../errors.ts';
import { decodeCursor, etag, ifMatchVersion, pageResponse } from '../pagination.ts';
import { IfMatchHeaders, PageOf, PageQuery, problems, RoomName, SipUri, Text, Timestamp, UriPattern } from '../schemas.ts';

const strict = { additionalProperties: false } as const;

export const RoomPolicy = Type.Object({
  nicknames: Type.Boolean({ default: true, description: 'Participants may reserve nicknames (RFC 7701 §7).' }),
  privateMessages: Type.Boolean({ default: true, description: 'Participants may send private messages (RFC 7701 §6).' }),
  maxParticipants: Type.Integer({ minimum: 1, maximum: 100000, default: 100 }),
  history: Type.Object({
    enabled: Type.Boolean({ default: true }),
    size: Type.Integer({ minimum: 0, maximum: 10000, default: 50, description: 'Messages replayed to joiners.' }),
  }, { ...strict, default: {} }),
  allow: Type.Array(UriPattern, { maxItems: 256, default: [], description: 'Only URIs matching one of these may join; anyone when empty.' }),
  deny: Type.Array(UriPattern, { maxItems: 256, default: [], description: 'URIs matching one of these may not join (wins over allow).' }),
  moderators: Type.Array(SipUri, { maxItems: 64, uniqueItems: true, default: [], description: 'Participants who may remove others and change the subject.' }),
  welcome: Type.String({ maxLength: 4096, format: 'multiline-text', default: '', description: 'Message sent to each participant who joins; none when empty.' }),
  requireAuth: Type.Boolean({
    default: false,
    description: 'Joins (INVITE), roster subscriptions (SUBSCRIBE) and every other request to the room must authenticate with SIP Digest against the relay\'s realms and users (or come with P-Asserted-Identity from a trusted proxy); the participant, allow/deny lists and moderators then match sip:<user>@<realm>. Moderator actions need an authenticated identity in every room.',
  }),
}, { ...strict, default: {} });

export const RoomSpec = Type.Object({
  uri: SipUri,
  subject: Text(1024, { default: '' }),
  policy: RoomPolicy,
}, { ...strict, description: 'Desired state of a room; omitted fields take their defaults.' });
export type RoomSpec = Static<typeof RoomSpec>;

export const Room = Type.Object({
  name: RoomName,
  ...RoomSpec.properties,
  generation: Type.Integer({ minimum: 1, description: 'Grows by one whenever the spec changes; the ETag.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}, strict);

const Params = Type.Object({ name: RoomName });

const roomView = (r: StoredRoom) => {
  const spec = r.spec as RoomSpec;
  return { name: r.name, uri: spec.uri, subject: spec.subject, policy: spec.policy, generation: r.generation, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() };
};

function generationOf(header: string | undefined): number | undefined {
  const v = ifMatchVersion(header);
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new ProblemError('precondition-failed', `If-Match ${header} is not a generation of this room`);
  return Number(v);
}

export const roomRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['rooms'];

  app.get('/rooms', {
    schema: {
      tags, summary: 'List rooms',
      querystring: Type.Object({ ...PageQuery, prefix: Type.Optional(Text(64, { description: 'Only names starting with this text.' })) }, strict),
      response: { 200: PageOf(Room), ...problems() },
    },
  }, async (req) => {
    const page = await ctx.store.rooms.list({ prefix: req.query.prefix }, { limit: req.query.limit, after: decodeCursor<string>(req.query.cursor, 'string') });
    return pageResponse(page, roomView);
  });

  app.get('/rooms/:name', {
    schema: { tags, summary: 'Read a room', params: Params, response: { 200: Room, ...problems(404) } },
  }, async (req, reply) => {
    const r = await ctx.store.rooms.get(req.params.name);
    if (!r) throw notFound(`room ${req.params.name}`);
    return reply.header('etag', etag(r.generation)).send(roomView(r));
  });

  app.put('/rooms/:name', {
    schema: {
      tags, summary: 'Create or replace a room (idempotent)', params: Params, headers: IfMatchHeaders, body: RoomSpec,
      response: { 200: Room, 201: Room, ...problems(412, 413) },
    },
  }, async (req, reply) => {
    const { name } = req.params;
    const { room, created, changed } = await ctx.store.rooms.put(name, req.body, generationOf(req.headers['if-match']));
    if (changed) await ctx.audit(req, created ? 'room.create' : 'room.update', `/v1/rooms/${name}`, { generation: room.generation });
    if (created) void reply.code(201).header('location', `/v1/rooms/${encodeURIComponent(name)}`);
    return reply.header('etag', etag(room.generation)).send(roomView(room));
  });

  app.delete('/rooms/:name', {
    schema: { tags, summary: 'Delete a room', params: Params, headers: IfMatchHeaders, response: { 204: Type.Null(), ...problems(404, 412) } },
  }, async (req, reply) => {
    await ctx.store.rooms.delete(req.params.name, generationOf(req.headers['if-match']));
    await ctx.audit(req, 'room.delete', `/v1/rooms/${req.params.name}`);
    return reply.code(204).send(null);
  });
  done();
};
