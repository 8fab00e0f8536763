// Serves the browser chat page (page/) on plain HTTP requests to the relay's WebSocket
// listeners, so the page and its MSRP WebSocket share one origin (docs/chat.md "The chat
// page"): GET / the HTML, /chat.js the bundle (esbuild, built once on first request, from the
// page's TypeScript and the pure protocol folders), /chat.css, /config.json where the relay and
// the focus are. Everything comes from here: no CDN. Anything else is 404, other methods 405.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ChatPageSettings {
  /** The relay's MSRP URI (the page's AUTH To-Path). */
  readonly relayUri: string;
  /** The focus's SIP WebSocket ports on the same host; undefined when it has none. */
  readonly sip: { readonly ws?: number; readonly wss?: number } | undefined;
  /** Host part of the users' SIP URIs: the realm of the chat domain. */
  readonly userDomain: string;
  /** The room the login form proposes. */
  readonly room: string | undefined;
}

export interface ChatPageLog {
  warn(o: object, msg: string): void;
}

const PAGE = join(import.meta.dirname, 'page');

// The page talks to its own origin (MSRP WebSocket) and to the focus's WebSocket port on the same
// host; nothing else is loaded or framed.
const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' ws: wss: blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** What one URL serves: its type and how to make its bytes (made once, then kept). */
const FILES: Record<string, { type: string; make: () => Promise<string> }> = {
  '/': { type: 'text/html; charset=utf-8', make: () => readFile(join(PAGE, 'chat.html'), 'utf8') },
  '/chat.css': { type: 'text/css; charset=utf-8', make: () => readFile(join(PAGE, 'chat.css'), 'utf8') },
  // esbuild is loaded on the first request for the page, not with the engine: a relay whose
  // esbuild cannot load still starts (the page answers 500, with a log line).
  '/chat.js': { type: 'text/javascript; charset=utf-8', make: async () => (await import('./bundle.ts')).bundleWeb('page/main.ts') },
};

/** The request handler; `settings` is read per request (the focus starts after the relay). */
export function chatPageHandler(settings: () => ChatPageSettings | undefined, log: ChatPageLog): (req: IncomingMessage, res: ServerResponse) => void {
  const made = new Map<string, Promise<string>>();
  return (req, res) => {
    const asked = (req.url ?? '/').split('?')[0]!;
    const path = asked === '/index.html' ? '/' : asked;
    const file = FILES[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (path === '/config.json') {
      const s = settings();
      if (s === undefined) {
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end('the chat server is not running\n');
        return;
      }
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(s));
      return;
    }
    if (file === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    let body = made.get(path);
    if (body === undefined) {
      body = file.make();
      made.set(path, body);
      // A failed build is tried again on the next request.
      body.catch(() => made.delete(path));
    }
    body.then((text) => {
      res.writeHead(200, { ...HEADERS, 'Content-Type': file.type }).end(req.method === 'HEAD' ? undefined : text);
    }, (err: Error) => {
      log.warn({ err: err.message, path }, 'chat page: cannot build');
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('the chat page could not be built\n');
    });
  };
}
