// /v1/realms/{realm}/users: accounts that AUTH to the relay (RFC 4976 §5). Passwords
// are write-only: turned into HA1 digests by the store, and no response schema has a
// field that could carry a password or a digest.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { UserRecord } from '../../store/accounts.ts';
import type { RouteContext } from '../app.ts';
import { notFound } from '../errors.ts';
import { decodeCursor, etag, ifMatchVersion, pageResponse } from '../pagination.ts';
import { IfMatchHeaders, PageOf, PageQuery, Password, problems, RealmName, Text, Timestamp, Username } from '../schemas.ts';

export const User = Type.Object({
  realm: RealmName,
  username: Username,
  disabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}, { additionalProperties: false });

const RealmParams = Type.Object({ realm: RealmName });
const UserParams = Type.Object({ realm: RealmName, user: Username });

const userView = (u: UserRecord) => ({
  realm: u.realm, username: u.username, disabled: u.disabled, createdAt: u.createdAt.toISOString(), updatedAt: u.updatedAt.toISOString(),
});

export const userRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['users'];
  const path = (realm: string, user: string): string => `/v1/realms/${realm}/users/${user}`;
  const reply200 = async (realm: string, user: string) => {
    const u = await ctx.store.accounts.getUser(realm, user);
    if (!u) throw notFound(`user ${user}@${realm}`);
    return u;
  };

  app.get('/realms/:realm/users', {
    schema: {
      tags, summary: 'List users of a realm', params: RealmParams,
      querystring: Type.Object({
        ...PageQuery,
        prefix: Type.Optional(Text(64, { description: 'Only usernames starting with this text.' })),
        disabled: Type.Optional(Type.Boolean({ description: 'Only disabled (true) or enabled (false) users.' })),
      }, { additionalProperties: false }),
      response: { 200: PageOf(User), ...problems(404) },
    },
  }, async (req) => {
    const page = await ctx.store.accounts.listUsers(req.params.realm, { prefix: req.query.prefix, disabled: req.query.disabled },
      { limit: req.query.limit, after: decodeCursor<string>(req.query.cursor, 'string') });
    return pageResponse(page, userView);
  });

  app.post('/realms/:realm/users', {
    schema: {
      tags, summary: 'Create a user', params: RealmParams,
      body: Type.Object({ username: Username, password: Password, disabled: Type.Boolean({ default: false }) }, { additionalProperties: false }),
      response: { 201: User, ...problems(404, 409, 413) },
    },
  }, async (req, reply) => {
    const { realm } = req.params;
    const { username, password, disabled } = req.body;
    await ctx.store.createUser(realm, username, password);
    if (disabled) await ctx.store.disableUser(realm, username);
    const u = await reply200(realm, username);
    await ctx.audit(req, 'user.create', path(realm, username), { disabled });
    return reply.code(201).header('location', path(encodeURIComponent(realm), encodeURIComponent(username))).header('etag', etag(u.version)).send(userView(u));
  });

  app.get('/realms/:realm/users/:user', {
    schema: { tags, summary: 'Read a user', params: UserParams, response: { 200: User, ...problems(404) } },
  }, async (req, reply) => {
    const u = await reply200(req.params.realm, req.params.user);
    return reply.header('etag', etag(u.version)).send(userView(u));
  });

  app.patch('/realms/:realm/users/:user', {
    schema: {
      tags, summary: 'Update a user (disabled)', params: UserParams, headers: IfMatchHeaders,
      body: Type.Object({ disabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: User, ...problems(404, 412, 413) },
    },
  }, async (req, reply) => {
    const { realm, user } = req.params;
    const u = await ctx.store.accounts.updateUser(realm, user, { disabled: req.body.disabled }, ifMatchVersion(req.headers['if-match']));
    await ctx.audit(req, 'user.update', path(realm, user), { ...req.body });
    return reply.header('etag', etag(u.version)).send(userView(u));
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/realms/:realm/users/:user/${verb}`, {
      schema: { tags, summary: `${verb === 'disable' ? 'Disable' : 'Enable'} a user`, params: UserParams, response: { 200: User, ...problems(404) } },
    }, async (req, reply) => {
      const { realm, user } = req.params;
      const u = await ctx.store.accounts.updateUser(realm, user, { disabled });
      await ctx.audit(req, `user.${verb}`, path(realm, user));
      return reply.header('etag', etag(u.version)).send(userView(u));
    });
  }

  app.put('/realms/:realm/users/:user/password', {
    schema: {
      tags, summary: 'Set a user\'s password (stored as HA1 digests)', params: UserParams,
      body: Type.Object({ password: Password }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...problems(404, 413) },
    },
  }, async (req, reply) => {
    const { realm, user } = req.params;
    await ctx.store.setPassword(realm, user, req.body.password);
    await ctx.audit(req, 'user.password', path(realm, user));
    return reply.code(204).send(null);
  });

  app.delete('/realms/:realm/users/:user', {
    schema: { tags, summary: 'Delete a user', params: UserParams, response: { 204: Type.Null(), ...problems(404) } },
  }, async (req, reply) => {
    const { realm, user } = req.params;
    await ctx.store.deleteUser(realm, user);
    await ctx.audit(req, 'user.delete', path(realm, user));
    return reply.code(204).send(null);
  });
  done();
};
