// /v1/realms: Digest realms (RFC 7616 §3.3). Deleting a realm that still has users is
// refused (409) unless ?cascade=true, which deletes its users too.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RealmRecord } from '../../store/accounts.ts';
import type { RouteContext } from '../app.ts';
import { notFound } from '../errors.ts';
import { decodeCursor, etag, ifMatchVersion, pageResponse } from '../pagination.ts';
import { IfMatchHeaders, PageOf, PageQuery, problems, RealmName, Text, Timestamp } from '../schemas.ts';

export const Realm = Type.Object({
  name: RealmName,
  description: Type.String(),
  userCount: Type.Integer({ minimum: 0 }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}, { additionalProperties: false });

const Description = Text(1024, { description: 'Free text for operators.' });
const RealmParams = Type.Object({ realm: RealmName });

export const realmView = (r: RealmRecord) => ({
  name: r.name, description: r.description, userCount: r.userCount, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(),
});

export const realmRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['realms'];

  app.get('/realms', {
    schema: {
      tags, summary: 'List realms',
      querystring: Type.Object({ ...PageQuery, prefix: Type.Optional(Text(253, { description: 'Only names starting with this text.' })) }, { additionalProperties: false }),
      response: { 200: PageOf(Realm), ...problems() },
    },
  }, async (req) => {
    const page = await ctx.store.accounts.listRealms({ prefix: req.query.prefix }, { limit: req.query.limit, after: decodeCursor<string>(req.query.cursor, 'string') });
    return pageResponse(page, realmView);
  });

  app.post('/realms', {
    schema: {
      tags, summary: 'Create a realm',
      body: Type.Object({ name: RealmName, description: Type.Optional(Description) }, { additionalProperties: false }),
      response: { 201: Realm, ...problems(409, 413) },
    },
  }, async (req, reply) => {
    const { name, description } = req.body;
    await ctx.store.createRealm(name);
    const r = description !== undefined && description !== ''
      ? await ctx.store.accounts.updateRealm(name, { description })
      : (await ctx.store.accounts.getRealm(name))!;
    await ctx.audit(req, 'realm.create', `/v1/realms/${name}`, { description: r.description });
    return reply.code(201).header('location', `/v1/realms/${encodeURIComponent(name)}`).header('etag', etag(r.version)).send(realmView(r));
  });

  app.get('/realms/:realm', {
    schema: { tags, summary: 'Read a realm', params: RealmParams, response: { 200: Realm, ...problems(404) } },
  }, async (req, reply) => {
    const r = await ctx.store.accounts.getRealm(req.params.realm);
    if (!r) throw notFound(`realm ${req.params.realm}`);
    return reply.header('etag', etag(r.version)).send(realmView(r));
  });

  app.patch('/realms/:realm', {
    schema: {
      tags, summary: 'Update a realm (description)', params: RealmParams, headers: IfMatchHeaders,
      body: Type.Object({ description: Type.Optional(Description) }, { additionalProperties: false }),
      response: { 200: Realm, ...problems(404, 412, 413) },
    },
  }, async (req, reply) => {
    const r = await ctx.store.accounts.updateRealm(req.params.realm, { description: req.body.description }, ifMatchVersion(req.headers['if-match']));
    await ctx.audit(req, 'realm.update', `/v1/realms/${r.name}`, { description: r.description });
    return reply.header('etag', etag(r.version)).send(realmView(r));
  });

  app.delete('/realms/:realm', {
    schema: {
      tags, summary: 'Delete a realm (409 while it has users, unless cascade=true)', params: RealmParams,
      querystring: Type.Object({ cascade: Type.Boolean({ default: false, description: 'Also delete the realm\'s users.' }) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...problems(404, 409) },
    },
  }, async (req, reply) => {
    const { usersDeleted } = await ctx.store.accounts.deleteRealm(req.params.realm, { cascade: req.query.cascade });
    await ctx.audit(req, 'realm.delete', `/v1/realms/${req.params.realm}`, { cascade: req.query.cascade, usersDeleted });
    return reply.code(204).send(null);
  });
  done();
};
