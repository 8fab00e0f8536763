// The admin sidecar as a Fastify 5 application (docs/architecture.md §1.1 "admin"). Schema first:
// every route's TypeBox schema validates the request, serializes the response (so a
// field not in the schema, such as a digest, can never leave) and is the OpenAPI 3
// document at /docs/json (browsable at /docs). Features are plugins under routes/.
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest, type RawServerDefault } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { StoreError } from '../store/errors.ts';
import type { Store } from '../store/store.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Authenticator, type BootstrapToken, type Principal } from './auth.ts';
import { createEngineClient, type EngineClient } from './engine-client.ts';
import { ProblemError, problemFromStore, sendProblem, type FieldError } from './errors.ts';
import { createAdminMetrics, type AdminMetrics } from './metrics.ts';
import { accountingRoutes } from './routes/accounting.ts';
import { auditRoutes } from './routes/audit.ts';
import { healthRoutes } from './routes/health.ts';
import { liveRoutes } from './routes/live.ts';
import { passwordStorageRoutes } from './routes/password-storage.ts';
import { realmRoutes } from './routes/realms.ts';
import { roomRoutes } from './routes/rooms.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { userRoutes } from './routes/users.ts';
import type { TokenReviewer } from './tokenreview.ts';
import { installJsonParser, validatorCompiler } from './validation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AdminAppOptions {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** The bootstrap admin token, or a function giving it as it is now (a rotated Secret file). */
  bootstrapToken?: BootstrapToken | undefined;
  tokenReview?: TokenReviewer | undefined;
  /** Base URL of the engine control endpoint, e.g. http://127.0.0.1:9091. */
  engineUrl?: string | undefined;
  engineTimeoutMs?: number;
  /** Largest accepted request body in bytes (413 above). Default 64 KiB. */
  bodyLimit?: number;
  /** Subscribe to the change feed to drop cached token verifications at once (default true). */
  listenForChanges?: boolean;
  /** Seconds a verified stored token is trusted without a database lookup (default 5). */
  tokenCacheTtlMs?: number;
  /** Sessions of relay replicas whose heartbeat is older than this are not listed (default 30, as the engine). */
  liveStaleAfterSec?: number;
  /** How long DELETE /v1/sessions/:id waits for another replica to close the session before answering 202 (default 3000). */
  sessionDeleteWaitMs?: number;
  /** Serve HTTPS with this certificate and key (docs/security.md "Admin API"); plain HTTP when absent. */
  https?: { cert: string | Buffer; key: string | Buffer };
}

/** TLS 1.2 at least, as every other listener of the project. */
const ADMIN_MIN_TLS = 'TLSv1.2';

/** A renewed certificate for new handshakes of an HTTPS admin app (a rotated Secret file). */
export function setAdminCertificate(app: AdminApp, tls: SecureContextOptions): void {
  (app.server as unknown as HttpsServer).setSecureContext({ ...tls, minVersion: ADMIN_MIN_TLS });
}

/** What route plugins get: the narrow set of collaborators, nothing global. */
export interface RouteContext {
  store: Store;
  engine: EngineClient | undefined;
  authenticator: Authenticator;
  metrics: AdminMetrics;
  promMetrics: Metrics;
  /** Relay-wide session views (routes/live.ts). */
  live: { staleAfterSec: number; deleteWaitMs: number };
  /** Records an audit entry for a completed write; failures are logged, not thrown. */
  audit(req: FastifyRequest, action: string, resource: string, details?: Record<string, unknown>): Promise<void>;
}

export type AdminApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

function toProblem(err: FastifyError | Error): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof StoreError) return problemFromStore(err);
  const fe = err as FastifyError;
  const validation = fe.validation as unknown as (Partial<FieldError> & { instancePath?: string; message?: string })[] | undefined;
  if (Array.isArray(validation)) {
    const part = fe.validationContext === 'querystring' ? 'query' : fe.validationContext === 'params' ? 'path' : fe.validationContext === 'headers' ? 'header' : undefined;
    const errors: FieldError[] = validation.map((v) => {
      const where = v.in ?? part;
      return { field: v.field ?? v.instancePath ?? '', message: v.message ?? 'is invalid', ...(where ? { in: where } : {}) };
    });
    return new ProblemError('validation', `invalid ${fe.validationContext ?? 'request'}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, { errors });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new ProblemError('payload-too-large', fe.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new ProblemError('unsupported-media-type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return new ProblemError('malformed-body', fe.message);
  }
  if (fe.statusCode === 413) return new ProblemError('payload-too-large', fe.message);
  if (fe.statusCode === 400) return new ProblemError('malformed-body', fe.message);
  if (fe.statusCode === 404) return new ProblemError('not-found', fe.message);
  return new ProblemError('internal', 'internal error', { cause: err });
}

export async function buildAdminApp(o: AdminAppOptions): Promise<AdminApp> {
  const appLogger: FastifyBaseLogger = o.logger.child({ component: 'admin' });
  const app: AdminApp = Fastify({
    loggerInstance: appLogger,
    // Per-request lines are off: the metrics count requests; errors and auth failures are logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit ?? 64 * 1024,
    // Query strings with repeated keys or odd encodings are validated like anything else.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // An HTTPS server behind the same handler: Fastify types its server as http.Server
    // whatever the factory returns; the request and response objects are the same classes.
    ...(o.https === undefined ? {} : {
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
        createHttpsServer({ cert: o.https!.cert, key: o.https!.key, minVersion: ADMIN_MIN_TLS }, handler) as unknown as HttpServer,
    }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  installJsonParser(app);

  const metrics = createAdminMetrics(o.metrics);
  const authenticator = new Authenticator({
    store: o.store, bootstrapToken: o.bootstrapToken, tokenReview: o.tokenReview, logger: o.logger.child({ component: 'admin' }), metrics,
    ...(o.tokenCacheTtlMs !== undefined ? { cacheTtlMs: o.tokenCacheTtlMs } : {}),
  });
  const engine = o.engineUrl !== undefined ? createEngineClient({ baseUrl: o.engineUrl, metrics, ...(o.engineTimeoutMs !== undefined ? { timeoutMs: o.engineTimeoutMs } : {}) }) : undefined;

  const ctx: RouteContext = {
    store: o.store, engine, authenticator, metrics, promMetrics: o.metrics,
    live: { staleAfterSec: o.liveStaleAfterSec ?? 30, deleteWaitMs: o.sessionDeleteWaitMs ?? 3000 },
    async audit(req, action, resource, details) {
      try {
        await o.store.audit.record({ actor: req.principal?.actor ?? 'anonymous', action, resource, ...(details ? { details } : {}) });
      } catch (err) {
        req.log.error({ err, action, resource }, 'audit entry could not be written');
      }
    },
  };

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const problem = toProblem(err);
    if (problem.code === 'internal') req.log.error({ err }, 'request failed');
    else if (problem.code === 'database-unavailable' || problem.code === 'engine-unavailable') req.log.warn({ err: problem.cause ?? err, type: problem.code }, 'dependency unavailable');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new ProblemError('not-found', `no route ${req.method} ${req.url.split('?')[0]}`)));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  let unlisten: (() => Promise<void>) | undefined;
  if (o.listenForChanges !== false) {
    app.addHook('onReady', async () => {
      try {
        unlisten = await o.store.listen((e) => {
          if (e.table === 'tokens' || e.table === '*') authenticator.invalidate();
        });
      } catch (err) {
        // Not fatal: the token cache TTL bounds how long a revocation elsewhere takes effect.
        app.log.warn({ err }, 'change feed unavailable; token revocations elsewhere apply after the cache TTL');
      }
    });
  }
  app.addHook('onClose', async () => {
    await unlisten?.();
    await engine?.close();
    await o.tokenReview?.close();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'MSRP admin API', version: 'v1', description: 'Realms, users, rooms, tokens, audit and live views of an MSRP relay (RFC 4976) and chat server (RFC 7701). Errors are RFC 9457 problem details; see docs/admin-api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'msrp_<id>_<secret> token, the bootstrap token, or a Kubernetes ServiceAccount token (TokenReview).' } } },
      security: [{ bearer: [] }],
      tags: ['realms', 'users', 'password-storage', 'rooms', 'tokens', 'audit', 'accounting', 'live', 'health'].map((name) => ({ name })),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { ctx });
  await app.register(async (v1) => {
    v1.addHook('onRequest', async (req) => {
      const principal = await authenticator.authenticate(req.headers.authorization, req.ip);
      req.principal = principal;
      // The read-only role may only look (RFC 9110 §9.2.1 safe methods).
      if (principal.role === 'read-only' && req.method !== 'GET' && req.method !== 'HEAD') {
        metrics.authFailures.inc({ reason: 'forbidden' });
        req.log.warn({ actor: principal.actor, method: req.method, url: req.url }, 'read-only token tried to write');
        throw new ProblemError('forbidden', 'this token is read-only');
      }
    });
    await v1.register(realmRoutes, { ctx });
    await v1.register(userRoutes, { ctx });
    await v1.register(passwordStorageRoutes, { ctx });
    await v1.register(roomRoutes, { ctx });
    await v1.register(tokenRoutes, { ctx });
    await v1.register(auditRoutes, { ctx });
    await v1.register(accountingRoutes, { ctx });
    await v1.register(liveRoutes, { ctx });
  }, { prefix: '/v1' });

  return app;
}
