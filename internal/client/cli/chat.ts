// `msrp chat sip:room@domain`: join a chat room (RFC 7701) through its SIP focus and talk.
//
//   SIP   INVITE to --focus host:port (UDP or TCP) with an MSRP offer whose a=path is our
//         path: [relay session, our URI] after AUTH with --relay (RFC 4976 §6), or [our URI]
//   MSRP  direct: we connect to the switch's URI from the answer (a=setup:active, RFC 6135);
//         via relay: everything goes out on the relay connection, To-Path [relay, switch].
//
// Line mode (stdin): text → a public message; /nick NAME (NICKNAME, RFC 7701 §7); /msg NICK
// text (private, RFC 7701 §6.2: CPIM To names the participant; the switch also takes a
// nickname as the display name); /file PATH; /who (the room's conference-info, RFC 4575);
// /quit. Received messages print as "<from> text" ("[private] " in front when private); a
// file as "<from> [file NAME SIZE bytes sha256 HEX]", saved into --save-dir DIR when given.
// --script FILE runs lines from a file instead: `wait:<ms>`, `expect:<regex>` (waits up to
// --expect-timeout for a printed line to match, exit 1 otherwise), anything else as typed.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { uriKey } from '../../chat/switch/policy.ts';
import { formatCpim, parseCpim } from '../../msrp/cpim.ts';
import { newSessionId, newTransactionId } from '../../msrp/transaction.ts';
import { headerValue } from '../../sip/message.ts';
import { parseSdp } from '../../sip/sdp.ts';
import { findMsrpMedia } from '../../sip/sdp-msrp.ts';
import { connectTo, normalizeMsrpUri, uriHost } from '../connect.ts';
import { parseDisposition, safeFileName } from '../file-meta.ts';
import { listenEndpoint, MsrpEndpoint, type ReceivedMessage } from '../endpoint.ts';
import type { Link } from '../link.ts';
import { offerSdp, SipUac, type UacDialog } from '../sip-uac.ts';
import { connectOptions, EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseCount, RELAY_HELP, RELAY_OPTIONS, resolvePassword, UsageError, type CliIo, type RelayValues } from './common.ts';

export const CHAT_HELP = `Usage: msrp chat sip:room@domain --focus HOST:PORT [options]

Join an MSRP chat room (RFC 7701) and chat, one line per message.

Options:
  --focus HOST:PORT      the SIP focus of the room (required)
  --transport udp|tcp    SIP transport (default udp)
  --from URI             your SIP URI (default sip:<user or $USER>@localhost)
  --nick NAME            take this nickname on joining
  --script FILE          read lines from FILE instead of stdin (wait:<ms>, expect:<regex>)
  --expect-timeout MS    how long an expect: line waits (default 5000)
  --save-dir DIR         save files sent to the room into DIR (never overwriting)
Without --relay the MSRP session goes straight to the room's switch.
${RELAY_HELP}
In the room:  text · /nick NAME · /msg NICK text · /file PATH · /who · /quit
`;

export interface ChatContext extends CliIo {
  readonly signal?: AbortSignal;
  readonly stdin?: NodeJS.ReadableStream;
}

/** A joined room: the SIP dialog, the MSRP endpoint and the link it talks on. */
class ChatSession {
  readonly uac: SipUac;
  readonly dialog: UacDialog;
  readonly ep: MsrpEndpoint;
  readonly link: Link;
  readonly toPath: readonly string[];
  readonly me: string;
  readonly room: string;

  constructor(init: { uac: SipUac; dialog: UacDialog; ep: MsrpEndpoint; link: Link; toPath: readonly string[]; me: string; room: string }) {
    this.uac = init.uac;
    this.dialog = init.dialog;
    this.ep = init.ep;
    this.link = init.link;
    this.toPath = init.toPath;
    this.me = init.me;
    this.room = init.room;
  }

  async say(text: string, to?: string): Promise<string | undefined> {
    // RFC 7701 §6.2: a private message names the participant in CPIM To; a bare nickname is
    // written as the display name (this switch resolves it), a sip: URI as the address.
    const toAddr = to === undefined ? { uri: this.room } : /^sips?:/.test(to) ? { uri: to } : { displayName: to, uri: `sip:${encodeURIComponent(to)}@nickname.invalid` };
    const cpim = formatCpim({ from: { uri: this.me }, to: [toAddr], dateTime: new Date(), contentType: 'text/plain;charset=utf-8', content: text });
    const r = await this.ep.send({ toPath: this.toPath, message: cpim, contentType: 'message/cpim' });
    return r.ok ? undefined : `${r.status} ${r.message}`;
  }

  async file(path: string): Promise<string | undefined> {
    const data = await readFile(path);
    const cpim = formatCpim({
      from: { uri: this.me }, to: [{ uri: this.room }], dateTime: new Date(), contentType: 'application/octet-stream',
      contentHeaders: [{ name: 'Content-Disposition', value: `attachment; filename="${basename(path).replace(/"/g, '')}"` }], content: data,
    });
    const r = await this.ep.send({ toPath: this.toPath, message: cpim, contentType: 'message/cpim' });
    return r.ok ? undefined : `${r.status} ${r.message}`;
  }

  /** RFC 7701 §7.1: NICKNAME with Use-Nickname (a quoted-string). */
  async nick(name: string): Promise<string | undefined> {
    const { result } = this.link.request({
      kind: 'request', method: 'NICKNAME', transactionId: newTransactionId(), toPath: this.toPath, fromPath: [this.ep.localUri],
      headers: [{ name: 'Use-Nickname', value: `"${name.replace(/(["\\])/g, '\\$1')}"` }], body: [], continuation: '$',
    });
    const r = await result;
    if (!r.ok) return r.message;
    return r.response.status === 200 ? undefined : `${r.response.status} ${r.response.comment}`;
  }

  /** RFC 4575: a one-shot SUBSCRIBE (Expires: 0) returns the room's state in one NOTIFY. */
  async who(): Promise<string> {
    const d = this.uac.newDialog(this.room, this.me);
    const res = await this.uac.send(d, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '0'], ['Accept', 'application/conference-info+xml']] });
    if (res.status !== 200) return `who: ${res.status} ${res.reason}`;
    const n = await this.uac.nextRequest('NOTIFY');
    const xml = n.body.toString('utf8');
    // RFC 7701 §7.4 / §9.6: the nickname is the XCON 'nickname' attribute of <user>.
    const users = [...xml.matchAll(/<user entity="([^"]+)"([^>]*)>/g)].map((m) => {
      const nick = /\bxcon:nickname="([^"]*)"/.exec(m[2] ?? '')?.[1];
      return nick === undefined ? m[1]! : `${xmlText(nick)} (${m[1]!})`;
    });
    return `in the room: ${users.join(', ') || 'nobody'}`;
  }

  async leave(): Promise<void> {
    await this.uac.send(this.dialog, 'BYE', { inDialog: true }).catch(() => undefined);
    await this.ep.close();
    this.uac.close();
  }
}

/** Writes `data` into `dir` as `name`, or "name (n).ext" when that exists; returns the path. */
async function saveNew(dir: string, name: string, data: Buffer): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; ; n++) {
    const path = join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
    try {
      await writeFile(path, data, { flag: 'wx' });
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err;
    }
  }
}

async function describe(m: ReceivedMessage, room: string, saveDir: string | undefined): Promise<string> {
  if (m.body === undefined) return m.file ? `[file] ${m.file.name}` : '[message]';
  const c = parseCpim(m.body);
  if (!c.ok) return m.body.toString('utf8');
  const from = c.message.from;
  const who = from?.displayName ?? from?.uri ?? '?';
  const to = c.message.to[0]?.uri;
  const priv = to !== undefined && uriKey(to) !== uriKey(room) ? '[private] ' : '';
  const content = c.message.content;
  if (/^text\//i.test(c.message.contentType ?? 'text/plain')) return `${priv}<${who}> ${content.toString('utf8')}`;
  const cd = c.message.contentHeaders.find((h) => h.name.toLowerCase() === 'content-disposition')?.value;
  const filename = cd === undefined ? undefined : parseDisposition(cd)?.filename;
  if (filename === undefined) return `${priv}<${who}> [${c.message.contentType ?? 'data'} ${content.length} bytes]`;
  const name = safeFileName(filename, 'file');
  const sha = createHash('sha256').update(content).digest('hex');
  let saved = '';
  if (saveDir !== undefined) {
    saved = await saveNew(saveDir, name, content).then((p) => ` saved to ${p}`, (err: Error) => ` not saved: ${err.message}`);
  }
  return `${priv}<${who}> [file ${name} ${content.length} bytes sha256 ${sha}]${saved}`;
}

/** Runs `msrp chat`; usage mistakes print a hint and give exit status 2. */
export async function chatCommand(argv: string[], ctx: ChatContext): Promise<number> {
  try {
    return await chat(argv, ctx);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      ctx.stderr.write(`msrp chat: ${(err as Error).message}\n(see msrp chat --help)\n`);
      return EXIT_USAGE;
    }
    ctx.stderr.write(`msrp chat: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILED;
  }
}

async function chat(argv: string[], ctx: ChatContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      ...RELAY_OPTIONS,
      focus: { type: 'string' }, transport: { type: 'string' }, from: { type: 'string' }, nick: { type: 'string' },
      script: { type: 'string' }, 'expect-timeout': { type: 'string' }, 'save-dir': { type: 'string' },
    },
  });
  if (values.help === true) {
    ctx.stdout.write(CHAT_HELP);
    return EXIT_OK;
  }
  const room = positionals[0];
  if (room === undefined || !/^sips?:[^@]+@.+/.test(room)) throw new UsageError('the room URI is required, e.g. sip:lobby@chat.example.com');
  if (values.focus === undefined) throw new UsageError('--focus HOST:PORT is required');
  const fm = /^(.+):(\d+)$/.exec(values.focus);
  if (!fm) throw new UsageError('--focus wants HOST:PORT');
  const transport = (values.transport ?? 'udp').toUpperCase();
  if (transport !== 'UDP' && transport !== 'TCP') throw new UsageError('--transport is udp or tcp');
  // Checked (a bad --dns-server is a usage error) before anything opens: the switch is dialled
  // with these only after the focus accepted the INVITE, too late to throw.
  const connect = connectOptions(values);
  const user = values.user ?? ctx.env['USER'] ?? 'guest';
  const me = values.from ?? `sip:${user}@localhost`;
  const out = (line: string) => ctx.stdout.write(`${line}\n`);
  const printed: string[] = [];
  const lineWaiters = new Set<() => void>();
  const print = (line: string) => {
    out(line);
    printed.push(line);
    for (const w of lineWaiters) w();
  };

  // MSRP side first: our path must be in the offer.
  let ep: MsrpEndpoint;
  let link: Link | undefined;
  // Lines print in arrival order even when saving a file takes a while.
  let printing = Promise.resolve();
  const saveDir = values['save-dir'];
  const onMessage = (m: ReceivedMessage) => {
    if (m.size > 0) printing = printing.then(async () => print(await describe(m, room, saveDir)));
  };
  if (values.relay !== undefined) {
    const rv = values as RelayValues;
    // The same URI (with ";tcp") in the connection, our endpoint and AUTH's To-Path (RFC 4975 §9).
    const relayUri = normalizeMsrpUri(rv.relay!);
    const c = await connectTo(relayUri, connect);
    if (!c.ok) {
      ctx.stderr.write(`msrp chat: cannot connect to ${relayUri}: ${c.message}\n`);
      return EXIT_FAILED;
    }
    const sessionId = newSessionId();
    const localUri = `${c.uri.scheme}://${uriHost(c.socket.localAddress ?? '127.0.0.1')}:${c.socket.localPort ?? 0}/${sessionId};tcp`;
    ep = new MsrpEndpoint({ localUri, sessionId, remoteUri: relayUri }, { onMessage });
    link = ep.attach(c.socket);
    const expires = parseCount(rv.expires, 'expires');
    const auth = await ep.auth({
      username: user, password: await resolvePassword(rv, ctx.env),
      ...(rv.realm === undefined ? {} : { realm: rv.realm }), ...(expires === undefined ? {} : { expires }),
    });
    if (!auth.ok) {
      ctx.stderr.write(`msrp chat: AUTH failed: ${auth.message}\n`);
      await ep.close();
      return EXIT_FAILED;
    }
  } else {
    // Direct: a listening endpoint fixes our URI before the offer (RFC 4975 §8.2: the switch
    // checks From-Path against the offer's path); we then connect out to the switch.
    ep = await listenEndpoint({ host: '127.0.0.1', onMessage });
  }

  // A focus that cannot be reached (connection refused, no answer before Timer B) throws: the
  // relay connection and the SIP socket are closed first, or they would keep the process alive
  // after it printed the failure.
  let uac: SipUac | undefined;
  let res: Awaited<ReturnType<SipUac['send']>>;
  let dialog: ReturnType<SipUac['newDialog']>;
  try {
    uac = await SipUac.open(transport, Number(fm[2]), user, fm[1]);
    dialog = uac.newDialog(room, me);
    res = await uac.send(dialog, 'INVITE', { body: offerSdp(ep.path.join(' '), { setup: 'active' }) });
  } catch (err) {
    uac?.close();
    await ep.close();
    ctx.stderr.write(`msrp chat: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
  if (res.status !== 200) {
    ctx.stderr.write(`msrp chat: the focus answered ${res.status} ${res.reason}${headerValue(res, 'Warning') ? ` (${headerValue(res, 'Warning')})` : ''}\n`);
    uac.close();
    await ep.close();
    return EXIT_FAILED;
  }
  await uac.send(dialog, 'ACK');
  const answer = parseSdp(res.body);
  const media = answer.ok ? findMsrpMedia(answer.value) : undefined;
  if (!media?.ok) {
    ctx.stderr.write('msrp chat: the answer has no MSRP media\n');
    uac.close();
    await ep.close();
    return EXIT_FAILED;
  }
  const switchPath = media.value.path;
  if (link === undefined) {
    const c = await connectTo(switchPath[0]!, connect);
    if (!c.ok) {
      ctx.stderr.write(`msrp chat: cannot connect to the room's switch ${switchPath[0]}: ${c.message}\n`);
      await uac.send(dialog, 'BYE', { inDialog: true }).catch(() => undefined);
      uac.close();
      await ep.close();
      return EXIT_FAILED;
    }
    link = ep.attach(c.socket);
  }
  const session = new ChatSession({ uac, dialog, ep, link, toPath: [...ep.usePath, ...switchPath], me, room });
  let ended = false;
  const closed = new Promise<void>((resolve) => {
    uac.onRequest = (r) => {
      if (r.method === 'BYE') {
        print('* removed from the room');
        ended = true;
        resolve();
      }
    };
  });
  ctx.stderr.write(`msrp chat: joined ${room} as ${me}\n`);
  // Bind the MSRP session (RFC 4975 §5.4: the active side sends first): a NICKNAME or an empty SEND.
  if (values.nick !== undefined) {
    const err = await session.nick(values.nick);
    print(err === undefined ? `* you are ${values.nick}` : `* nickname refused: ${err}`);
  } else {
    await ep.send({ toPath: session.toPath, message: Buffer.alloc(0), contentType: 'message/cpim' }).catch(() => undefined);
  }

  const expectTimeout = Number(values['expect-timeout'] ?? 5000);
  const expect = (re: RegExp): Promise<boolean> => new Promise((resolve) => {
    let from = 0;
    const check = () => {
      for (; from < printed.length; from++) {
        if (re.test(printed[from]!)) {
          printed.splice(0, from + 1);
          done(true);
          return;
        }
      }
    };
    const done = (ok: boolean) => {
      clearTimeout(timer);
      lineWaiters.delete(check);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), expectTimeout);
    lineWaiters.add(check);
    check();
  });

  const run = async (line: string): Promise<boolean> => {
    const t = line.trim();
    if (t === '') return true;
    if (t.startsWith('wait:')) {
      await new Promise((r) => setTimeout(r, Number(t.slice(5))));
      return true;
    }
    if (t.startsWith('expect:')) {
      const ok = await expect(new RegExp(t.slice(7)));
      if (!ok) ctx.stderr.write(`msrp chat: expected ${t.slice(7)} within ${expectTimeout} ms\n`);
      return ok;
    }
    if (t === '/quit') return false;
    if (t === '/who') {
      print(await session.who());
      return true;
    }
    const cmd = /^\/(\w+)\s*(.*)$/.exec(t);
    let err: string | undefined;
    if (!cmd) err = await session.say(t);
    else if (cmd[1] === 'nick') {
      err = await session.nick(cmd[2]!.trim());
      if (err === undefined) print(`* you are ${cmd[2]!.trim()}`);
    } else if (cmd[1] === 'msg') {
      const m = /^(\S+)\s+(.*)$/.exec(cmd[2]!);
      err = m ? await session.say(m[2]!, m[1]) : 'usage: /msg NICK text';
    } else if (cmd[1] === 'file') err = await session.file(cmd[2]!.trim());
    else err = `unknown command /${cmd[1]}`;
    if (err !== undefined) print(`* ${err}`);
    return true;
  };

  let code = EXIT_OK;
  if (values.script !== undefined) {
    const lines = (await readFile(values.script, 'utf8')).split(/\r?\n/);
    for (const line of lines) {
      if (ended || ctx.signal?.aborted === true) break;
      const ok = await run(line);
      if (!ok && line.trim().startsWith('expect:')) {
        code = EXIT_FAILED;
        break;
      }
      if (!ok) break;
    }
  } else {
    const rl = createInterface({ input: ctx.stdin ?? process.stdin, terminal: false });
    const stop = new Promise<void>((resolve) => ctx.signal?.addEventListener('abort', () => resolve(), { once: true }));
    const lines = (async () => {
      for await (const line of rl) if (ended || !(await run(line))) break;
    })();
    await Promise.race([lines, closed, stop]);
    rl.close();
  }
  if (!ended) await session.leave();
  else {
    await ep.close();
    uac.close();
  }
  await printing;
  return code;
}

/** XML character and entity references of an attribute value (XML 1.0 §4.6), as the focus escapes them. */
function xmlText(s: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return named[ref.toLowerCase()] ?? _;
  });
}
