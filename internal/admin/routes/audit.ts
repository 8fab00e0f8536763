// /v1/audit: who changed what and when, newest first, cursor-paginated.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RouteContext } from '../app.ts';
import { decodeCursor, pageResponse } from '../pagination.ts';
import { PageOf, PageQuery, problems, Text, Timestamp } from '../schemas.ts';

const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actor: Type.String({ description: 'bootstrap, token:<id> or serviceaccount:<namespace>/<name>.' }),
  action: Type.String({ description: 'e.g. realm.create, user.password, room.update, token.revoke.' }),
  resource: Type.String({ description: 'API path of the object.' }),
  details: Type.Object({}, { additionalProperties: true }),
}, { additionalProperties: false });

export const auditRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  app.get('/audit', {
    schema: {
      tags: ['audit'], summary: 'Read the audit log (newest first)',
      querystring: Type.Object({
        ...PageQuery,
        actor: Type.Optional(Text(256)),
        action: Type.Optional(Text(64)),
        resource: Type.Optional(Text(1024, { description: 'Only resources starting with this path, e.g. /v1/rooms/.' })),
      }, { additionalProperties: false }),
      response: { 200: PageOf(AuditEntry), ...problems() },
    },
  }, async (req) => {
    const { actor, action, resource, limit, cursor } = req.query;
    const page = await ctx.store.audit.list({ actor, action, resource }, { limit, after: decodeCursor<number>(cursor, 'number') });
    return pageResponse(page, (e) => ({ ...e, at: e.at.toISOString() }));
  });
  done();
};
