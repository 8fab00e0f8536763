// Probes and metrics, outside /v1 and without authentication (the kubelet and
// Prometheus call them). /healthz: the process answers. /readyz: the database answers
// (503 problem+json when not: the pod leaves the Service endpoints, nothing restarts).
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { RouteContext } from '../app.ts';
import { ProblemError } from '../errors.ts';
import { problems } from '../schemas.ts';

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const hide = { tags: ['health'], security: [] };
  app.get('/healthz', { schema: { ...hide, summary: 'The process is up', response: { 200: Status } } }, () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { ...hide, summary: 'The database is reachable', response: { 200: Status, ...problems() } } }, async () => {
    try {
      await ctx.store.ping();
    } catch (e) {
      throw new ProblemError('database-unavailable', 'the database did not answer', { cause: e });
    }
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: { ...hide, summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_req, reply) => {
    const pool = ctx.store.poolStats();
    if (pool !== undefined) {
      ctx.metrics.pool.set({ state: 'total' }, pool.total);
      ctx.metrics.pool.set({ state: 'idle' }, pool.idle);
      ctx.metrics.pool.set({ state: 'waiting' }, pool.waiting);
    }
    const text = await ctx.promMetrics.render();
    return reply.type(ctx.promMetrics.contentType).send(text);
  });
  done();
};
