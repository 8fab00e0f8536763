// /v1/tokens: API tokens. The secret is in the 201 answer only; afterwards the token is
// known by its id. DELETE revokes (the record stays, listed with revokedAt).
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { TokenInfo } from '../../store/tokens.ts';
import type { RouteContext } from '../app.ts';
import { newToken } from '../auth.ts';
import { notFound } from '../errors.ts';
import { decodeCursor, pageResponse } from '../pagination.ts';
import { PageOf, PageQuery, problems, Timestamp } from '../schemas.ts';

const Role = Type.Enum(['admin', 'read-only'], { description: 'admin: everything; read-only: GET only.' });
const TokenId = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Public id of the token (also inside the secret).' });

export const Token = Type.Object({
  id: TokenId,
  name: Type.String(),
  role: Role,
  createdBy: Type.String(),
  createdAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  revokedAt: Type.Union([Timestamp, Type.Null()]),
}, { additionalProperties: false });

const CreatedToken = Type.Object({
  ...Token.properties,
  token: Type.String({ description: 'The bearer token. Shown once: only its SHA-256 hash is stored.' }),
}, { additionalProperties: false });

const tokenView = (t: TokenInfo) => ({
  id: t.id, name: t.name, role: t.role, createdBy: t.createdBy, createdAt: t.createdAt.toISOString(),
  expiresAt: t.expiresAt?.toISOString() ?? null, revokedAt: t.revokedAt?.toISOString() ?? null,
});

export const tokenRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['tokens'];

  app.post('/tokens', {
    schema: {
      tags, summary: 'Create a token (the secret is shown once)',
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 128, format: 'token-name', description: 'What the token is for.' }),
        role: Role,
        expiresInSec: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86400, description: 'Lifetime; no expiry when absent.' })),
      }, { additionalProperties: false }),
      response: { 201: CreatedToken, ...problems(413) },
    },
  }, async (req, reply) => {
    const { id, secret, hash } = newToken();
    const info = await ctx.store.tokens.create({
      id, hash, name: req.body.name, role: req.body.role, createdBy: req.principal?.actor ?? 'anonymous',
      ...(req.body.expiresInSec !== undefined ? { expiresAt: new Date(Date.now() + req.body.expiresInSec * 1000) } : {}),
    });
    await ctx.audit(req, 'token.create', `/v1/tokens/${id}`, { name: info.name, role: info.role });
    return reply.code(201).header('location', `/v1/tokens/${id}`).header('cache-control', 'no-store').send({ ...tokenView(info), token: secret });
  });

  app.get('/tokens', {
    schema: {
      tags, summary: 'List tokens (never their secrets)',
      querystring: Type.Object({ ...PageQuery, revoked: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: PageOf(Token), ...problems() },
    },
  }, async (req) => pageResponse(
    await ctx.store.tokens.list({ revoked: req.query.revoked }, { limit: req.query.limit, after: decodeCursor<string>(req.query.cursor, 'string') }),
    tokenView));

  app.get('/tokens/:id', {
    schema: { tags, summary: 'Read a token', params: Type.Object({ id: TokenId }), response: { 200: Token, ...problems(404) } },
  }, async (req) => {
    const t = await ctx.store.tokens.get(req.params.id);
    if (!t) throw notFound(`token ${req.params.id}`);
    return tokenView(t);
  });

  app.delete('/tokens/:id', {
    schema: { tags, summary: 'Revoke a token', params: Type.Object({ id: TokenId }), response: { 204: Type.Null(), ...problems(404) } },
  }, async (req, reply) => {
    await ctx.store.tokens.revoke(req.params.id);
    ctx.authenticator.invalidate();
    await ctx.audit(req, 'token.revoke', `/v1/tokens/${req.params.id}`);
    return reply.code(204).send(null);
  });
  done();
};
