// /v1/password-storage: the password storage mode (docs/admin-api.md "Password storage") and
// key rotation. The mode is the sidecar's database.passwordStorage (the same as the engine's);
// rotation re-seals every password that opens only with a previous key under the current one.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RouteContext } from '../app.ts';
import { problems } from '../schemas.ts';

const Info = Type.Object({
  mode: Type.Enum(['ha1', 'encrypted'], { description: '`ha1`: HA1 digests only; `encrypted`: digests plus the password sealed with AES-256-GCM.' }),
  keyConfigured: Type.Boolean({ description: 'A current key file is configured (database.secretKeyFile).' }),
  previousKeys: Type.Integer({ description: 'How many previous keys are configured (still read).' }),
  usersWithSecret: Type.Integer({ description: 'Users whose password is kept sealed.' }),
  usersWithoutSecret: Type.Integer({ description: 'Users with HA1 digests only (created before `encrypted`, or in `ha1` mode): sealed at their next password change.' }),
}, { additionalProperties: false });

const Rotation = Type.Object({
  reencrypted: Type.Integer({ description: 'Sealed with a previous key, now re-sealed with the current one.' }),
  current: Type.Integer({ description: 'Already sealed with the current key.' }),
  unreadable: Type.Integer({ description: 'Opened with no configured key: left as they are.' }),
}, { additionalProperties: false });

export const passwordStorageRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['password-storage'];
  app.get('/password-storage', {
    schema: { tags, summary: 'Password storage mode and counts', response: { 200: Info, ...problems() } },
  }, () => ctx.store.passwordStorage());

  app.post('/password-storage/rotate', {
    schema: { tags, summary: 'Re-seal passwords sealed with a previous key under the current key', response: { 200: Rotation, ...problems() } },
  }, async (req) => {
    const out = await ctx.store.rotateSecretKey();
    if (out.unreadable > 0) req.log.warn({ unreadable: out.unreadable }, 'sealed passwords that no configured key opens were left as they are');
    await ctx.audit(req, 'password-storage.rotate', '/v1/password-storage', { ...out });
    return out;
  });
  done();
};
