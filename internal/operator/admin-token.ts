// Which bearer token the operator presents to a relay's admin API. By default the relay's
// own `<relay>-admin-token` Secret (key `token`): the very file its admin sidecar mounts as
// the bootstrap token (render/statefulset.ts), read through the operator's SecretCache. An
// explicit --admin-token-file / --admin-token-secret is only a fallback for a relay whose
// Secret is missing or empty.
import type { MsrpRelay } from './api/msrprelay.ts';
import { AdminTokenMissingError, adminBaseUrl } from './admin-client.ts';
import type { AdminTarget, TokenSource } from './admin-client.ts';
import { adminDnsNames, names } from './render/common.ts';
import type { SecretReader } from './secret-cache.ts';

export const ADMIN_TOKEN_KEY = 'token';

/** The bearer token for one relay's admin API; throws AdminTokenMissingError when there is none. */
export type RelayTokenSource = (relay: MsrpRelay) => Promise<string>;

export function relaySecretTokens(secrets: SecretReader, fallback?: TokenSource): RelayTokenSource {
  return async (relay) => {
    const name = names.adminTokenSecret(relay);
    const namespace = relay.metadata.namespace ?? '';
    const secret = await secrets.read(name, namespace);
    const b64 = secret?.data?.[ADMIN_TOKEN_KEY];
    const token = b64 === undefined ? '' : Buffer.from(b64, 'base64').toString('utf8').trim();
    if (token) return token;
    if (fallback) {
      const t = await fallback();
      if (t) return t;
    }
    const problem = !secret
      ? `admin token secret "${name}" not found in namespace ${namespace}`
      : `admin token secret "${name}" has no non-empty key "${ADMIN_TOKEN_KEY}"`;
    throw new AdminTokenMissingError(
      `${problem}: create it (key "${ADMIN_TOKEN_KEY}", the admin API's bootstrap token the relay pods mount); the operator authenticates with it`,
    );
  };
}

/** The CA bundle of a relay's admin API certificate: ca.crt of its `<relay>-admin-tls` Secret (mesh-secrets.ts). */
export function relayAdminCa(secrets: SecretReader): (relay: MsrpRelay) => Promise<string | undefined> {
  return async (relay) => {
    const secret = await secrets.read(names.adminTlsSecret(relay), relay.metadata.namespace ?? '');
    const b64 = secret?.data?.['ca.crt'];
    return b64 === undefined || b64 === '' ? undefined : Buffer.from(b64, 'base64').toString('utf8');
  };
}

/**
 * A relay's admin API as the operator calls it: the URL from the template and, with the
 * operator-issued certificate, its CA and the admin Service's name, checked even when the
 * URL names an address.
 */
export function relayAdminTarget(template: string, relay: MsrpRelay, ca: string | undefined): AdminTarget {
  return {
    url: adminBaseUrl(template, { name: relay.metadata.name, namespace: relay.metadata.namespace ?? '' }),
    ...(ca === undefined ? {} : { ca, servername: adminDnsNames(relay)[0] }),
  };
}
