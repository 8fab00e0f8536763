// Kubernetes TokenReview for in-cluster callers (config-gated). A ServiceAccount token
// presented as a bearer token is sent to the API server
//   POST /apis/authentication.k8s.io/v1/tokenreviews
// and, when the API server says it is authenticated as system:serviceaccount:<ns>:<name>
// and that account is in the configured map, the caller gets the mapped role. The admin
// authenticates to the API server with its own projected token, re-read on every call
// because the kubelet rotates it.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

export interface ServiceAccountRole {
  namespace: string;
  name: string;
  role: 'admin' | 'read-only';
}

export interface TokenReviewOptions {
  /** https://kubernetes.default.svc, or the test cluster's server URL. */
  apiServer: string;
  /** PEM of the CA that signs the API server certificate. */
  caPem?: string | undefined;
  /** File holding the token this process calls the API server with. */
  tokenFile: string;
  /** Audiences the token must be valid for; the API server's default when empty. */
  audiences?: string[] | undefined;
  serviceAccounts: ServiceAccountRole[];
  timeoutMs?: number;
}

export type ReviewResult =
  | { ok: true; actor: string; role: 'admin' | 'read-only' }
  | { ok: false; reason: 'unauthenticated' | 'not-mapped' | 'error'; detail: string };

export interface TokenReviewer {
  review(token: string): Promise<ReviewResult>;
  close(): Promise<void>;
}

interface TokenReviewStatus { authenticated?: boolean; user?: { username?: string }; error?: string }

export function createTokenReviewer(o: TokenReviewOptions): TokenReviewer {
  const agent = new Agent({ connect: o.caPem !== undefined ? { ca: o.caPem } : {}, headersTimeout: o.timeoutMs ?? 5000, bodyTimeout: o.timeoutMs ?? 5000 });
  const url = new URL('/apis/authentication.k8s.io/v1/tokenreviews', o.apiServer).toString();
  const roles = new Map(o.serviceAccounts.map((s) => [`system:serviceaccount:${s.namespace}:${s.name}`, s]));
  return {
    async review(token) {
      let status: TokenReviewStatus;
      try {
        const own = readFileSync(o.tokenFile, 'utf8').trim();
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${own}` },
          body: JSON.stringify({
            apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview',
            spec: { token, ...(o.audiences && o.audiences.length > 0 ? { audiences: o.audiences } : {}) },
          }),
        });
        const body = await res.body.text();
        if (res.statusCode !== 201 && res.statusCode !== 200) {
          return { ok: false, reason: 'error', detail: `API server answered ${res.statusCode}: ${body.slice(0, 200)}` };
        }
        status = (JSON.parse(body) as { status?: TokenReviewStatus }).status ?? {};
      } catch (e) {
        return { ok: false, reason: 'error', detail: (e as Error).message };
      }
      if (status.authenticated !== true) return { ok: false, reason: 'unauthenticated', detail: status.error ?? 'not authenticated' };
      const username = status.user?.username ?? '';
      const sa = roles.get(username);
      if (!sa) return { ok: false, reason: 'not-mapped', detail: `${username} is not in auth.tokenReview.serviceAccounts` };
      return { ok: true, actor: `serviceaccount:${sa.namespace}/${sa.name}`, role: sa.role };
    },
    close: () => agent.close(),
  };
}
