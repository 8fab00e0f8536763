// AUTH to the relay from the page (RFC 4976 §5.1), over its MSRP WebSocket:
//
//   AUTH  To-Path: <relay URI>  From-Path: <our ;ws URI>          → 401 + WWW-Authenticate
//   AUTH  ... Authorization: Digest ... (auth/digest-client.ts)   → 200 + Use-Path + Expires
//
// The Digest answer is internal/auth's, as for the command-line client. The session is kept
// with a new AUTH before it expires (RFC 4976 §5.1).
import { answerChallenge, chooseChallenge } from '../../auth/digest-client.ts';
import { getHeader, type MsrpHeader, type MsrpRequest, type MsrpResponse } from '../../msrp/frame.ts';
import { parseExpires, parseUsePath } from '../../msrp/headers.ts';
import { newTransactionId } from '../../msrp/transaction.ts';
import type { MsrpSocket } from './msrp-socket.ts';

export interface RelayLogin {
  readonly relayUri: string;
  readonly localUri: string;
  readonly username: string;
  readonly password: string;
}

export interface RelaySession {
  readonly usePath: readonly string[];
  stop(): void;
}

function authRequest(o: RelayLogin, headers: MsrpHeader[]): MsrpRequest {
  return { kind: 'request', method: 'AUTH', transactionId: newTransactionId(), toPath: [o.relayUri], fromPath: [o.localUri], headers, body: [], continuation: '$' };
}

const challenges = (r: MsrpResponse): string[] => r.headers.filter((h) => h.name.toLowerCase() === 'www-authenticate').map((h) => h.value);

/** One AUTH exchange; throws with the relay's status when refused. */
async function authOnce(socket: MsrpSocket, o: RelayLogin): Promise<{ usePath: readonly string[]; expires: number }> {
  let res = await socket.request(authRequest(o, []));
  if (res.status === 401) {
    const challenge = chooseChallenge(challenges(res));
    if (challenge === undefined) throw new Error('the relay offered no Digest challenge with qop=auth');
    const { authorization } = answerChallenge({ challenge, username: o.username, password: o.password, uri: o.relayUri });
    res = await socket.request(authRequest(o, [{ name: 'Authorization', value: authorization }]));
  }
  if (res.status === 401 || res.status === 403) throw new Error(`the relay refused the login (${res.status}): wrong user name or password`);
  if (res.status !== 200) throw new Error(`the relay answered AUTH with ${res.status} ${res.comment}`);
  const usePath = parseUsePath(getHeader(res, 'Use-Path') ?? '');
  if (!usePath.ok) throw new Error('the relay granted AUTH without a valid Use-Path (RFC 4976 §5.1)');
  const e = parseExpires(getHeader(res, 'Expires') ?? '');
  return { usePath: usePath.value, expires: e.ok ? e.value : 600 };
}

/** Authenticates and keeps the session alive until stop(). */
export async function authenticate(socket: MsrpSocket, o: RelayLogin, onLost: (why: string) => void): Promise<RelaySession> {
  const first = await authOnce(socket, o);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (expires: number): void => {
    // A minute early for long sessions, halfway for short ones (as the CLI does).
    const delay = expires > 120 ? (expires - 60) * 1000 : (expires * 1000) / 2;
    timer = setTimeout(() => {
      authOnce(socket, o).then((r) => schedule(r.expires), (err: Error) => onLost(err.message));
    }, delay);
  };
  schedule(first.expires);
  return { usePath: first.usePath, stop: () => clearTimeout(timer) };
}
