// AUTH to an MSRP relay (RFC 4976 §5.1, §7.1 example):
//
//   AUTH  To-Path: <relay URI>  From-Path: <our URI>            → 401 + WWW-Authenticate
//   AUTH  ... Authorization: Digest ...  [Expires: n]           → 200 + Use-Path + Expires
//
// Errors are values: 403 (wrong credentials), 423 (Expires out of bounds, with the bound),
// 401 twice (realm or nonce refused), timeouts. A granted session is refreshed with a new
// AUTH before it expires (RFC 4976 §5.1: the client re-authenticates to keep it).
import type { MsrpHeader, MsrpRequest, MsrpResponse } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { parseExpires, parseUsePath } from '../msrp/headers.ts';
import { newTransactionId } from '../msrp/transaction.ts';
import { answerChallenge, checkRspauth, chooseChallenge, type DigestAnswer, type DigestChallenge } from '../auth/digest-client.ts';
import type { Link } from './link.ts';

export interface AuthOptions {
  /** The relay's URI, written verbatim in To-Path and used as the Digest uri. */
  readonly relayUri: string;
  /** Our URI, for From-Path. */
  readonly fromUri: string;
  readonly username: string;
  readonly password: string;
  /** Only answer a challenge for this realm (default: the relay's first). */
  readonly realm?: string;
  /** Lifetime to ask for, in seconds (RFC 4976 §5.1 Expires). */
  readonly expires?: number;
  /** Keep the session alive with a new AUTH before it expires (default true). */
  readonly refresh?: boolean;
}

export type AuthErrorCode = 'forbidden' | 'expires-out-of-bounds' | 'rejected' | 'no-usable-challenge' | 'bad-response' | 'bad-rspauth' | 'timeout' | 'closed' | 'failed';

export interface AuthSession {
  usePath: readonly string[];
  /** Seconds granted by the relay. */
  expires: number;
  expiresAt: number;
  realm: string;
  stop(): void;
}

export type AuthResult =
  | { readonly ok: true; readonly usePath: readonly string[]; readonly expires: number; readonly realm: string; readonly session: AuthSession }
  | {
      readonly ok: false;
      readonly code: AuthErrorCode;
      /** The relay's status code (403, 423, ...); 408 for a timeout, 0 when there was none. */
      readonly status: number;
      readonly message: string;
      /** With 423: the bound the requested Expires crossed. */
      readonly minExpires?: number;
      readonly maxExpires?: number;
    };

type Failure = Extract<AuthResult, { ok: false }>;

function authRequest(o: AuthOptions, extra: MsrpHeader[]): MsrpRequest {
  const headers = [...extra];
  if (o.expires !== undefined) headers.push({ name: 'Expires', value: String(o.expires) });
  return { kind: 'request', method: 'AUTH', transactionId: newTransactionId(), toPath: [o.relayUri], fromPath: [o.fromUri], headers, body: [], continuation: '$' };
}

async function exchange(link: Link, req: MsrpRequest): Promise<MsrpResponse | Failure> {
  const { result } = link.request(req);
  const r = await result;
  if (!r.ok) return { ok: false, code: r.code, status: r.code === 'timeout' ? 408 : 0, message: r.message };
  return r.response;
}

function challengesOf(res: MsrpResponse): string[] {
  return res.headers.filter((h) => h.name.toLowerCase() === 'www-authenticate').map((h) => h.value);
}

function failure(res: MsrpResponse): Failure {
  const text = `${res.status} ${res.comment}`.trim();
  if (res.status === 403) return { ok: false, code: 'forbidden', status: 403, message: `${text}: wrong user name or password, or not allowed` };
  if (res.status === 423) {
    const min = getHeader(res, 'Min-Expires');
    const max = getHeader(res, 'Max-Expires');
    const out: { -readonly [K in keyof Failure]: Failure[K] } = { ok: false, code: 'expires-out-of-bounds', status: 423, message: `${text}: Expires out of bounds` };
    if (min !== undefined && /^\d+$/.test(min)) {
      out.minExpires = Number(min);
      out.message += ` (minimum ${min} s)`;
    }
    if (max !== undefined && /^\d+$/.test(max)) {
      out.maxExpires = Number(max);
      out.message += ` (maximum ${max} s)`;
    }
    return out;
  }
  if (res.status === 401) return { ok: false, code: 'rejected', status: 401, message: `${text}: credentials refused (realm or nonce)` };
  return { ok: false, code: 'failed', status: res.status, message: text };
}

/** One complete AUTH exchange; `onRefresh` hears about later automatic re-AUTHs. */
export async function authenticate(link: Link, o: AuthOptions, onRefresh?: (r: AuthResult) => void): Promise<AuthResult> {
  let res = await exchange(link, authRequest(o, []));
  if ('ok' in res) return res;
  let answer: DigestAnswer | undefined;
  let challenge: DigestChallenge | undefined;
  // At most: initial 401, then one retry for stale=true (RFC 7616 §3.3).
  for (let round = 0; round < 3 && res.status === 401; round++) {
    const fresh = chooseChallenge(challengesOf(res), o.realm);
    if (fresh === undefined) {
      const offered = challengesOf(res).join(' | ') || 'none';
      return { ok: false, code: 'no-usable-challenge', status: 401, message: `no Digest challenge with qop=auth${o.realm === undefined ? '' : ` for realm "${o.realm}"`} (offered: ${offered})` };
    }
    // A second 401 after our answer means the answer was refused, unless the nonce was only stale.
    if (answer !== undefined && !fresh.stale) return failure(res);
    challenge = fresh;
    answer = answerChallenge({ challenge, username: o.username, password: o.password, uri: o.relayUri });
    const next = await exchange(link, authRequest(o, [{ name: 'Authorization', value: answer.authorization }]));
    if ('ok' in next) return next;
    res = next;
  }
  if (res.status !== 200) return failure(res);
  const usePathText = getHeader(res, 'Use-Path');
  const usePath = usePathText === undefined ? undefined : parseUsePath(usePathText);
  if (usePath === undefined || !usePath.ok) return { ok: false, code: 'bad-response', status: 200, message: '200 to AUTH without a valid Use-Path (RFC 4976 §5.1)' };
  const expiresText = getHeader(res, 'Expires');
  const expiresParsed = expiresText === undefined ? undefined : parseExpires(expiresText);
  const expires = expiresParsed !== undefined && expiresParsed.ok ? expiresParsed.value : (o.expires ?? 600);
  const info = getHeader(res, 'Authentication-Info');
  if (info !== undefined && answer !== undefined && challenge !== undefined && checkRspauth(info, answer, challenge.nonce) === false) {
    return { ok: false, code: 'bad-rspauth', status: 200, message: 'the relay\'s rspauth is wrong: it does not know our password (RFC 7616 §3.5)' };
  }

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const session: AuthSession = {
    usePath: usePath.value, expires, expiresAt: Date.now() + expires * 1000, realm: challenge?.realm ?? '',
    stop: () => {
      clearTimeout(timer);
      timer = undefined;
      stopped = true;
    },
  };
  const schedule = (): void => {
    if (o.refresh === false || stopped) return;
    // Re-AUTH with margin: a minute early for long sessions, halfway for short ones.
    const delay = session.expires > 120 ? (session.expires - 60) * 1000 : (session.expires * 1000) / 2;
    timer = setTimeout(() => {
      void authenticate(link, { ...o, refresh: false }).then((r) => {
        if (stopped) return;
        if (r.ok) {
          session.usePath = r.usePath;
          session.expires = r.expires;
          session.expiresAt = Date.now() + r.expires * 1000;
          schedule();
        }
        onRefresh?.(r);
      });
    }, delay);
    timer.unref();
  };
  schedule();
  return { ok: true, usePath: usePath.value, expires, realm: session.realm, session };
}
