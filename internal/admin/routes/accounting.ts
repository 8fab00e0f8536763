// /v1/accounting: the records of ended relay sessions and chat participations
// (docs/relay.md "Accounting"), newest first, cursor-paginated; /v1/accounting/export
// streams the same filter as CSV or JSON, page by page from the database (never the whole
// table in memory), up to `max` records.
import { Readable } from 'node:stream';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AccountingFilter, StoredAccountingRecord } from '../../store/accounting.ts';
import type { RouteContext } from '../app.ts';
import { decodeCursor, pageResponse } from '../pagination.ts';
import { PageOf, PageQuery, problems, RealmName, Text, Timestamp } from '../schemas.ts';

const Kind = Type.Enum(['relay-session', 'chat-participation']);

const AccountingRecord = Type.Object({
  id: Type.Integer(),
  kind: Kind,
  sessionId: Type.String({ description: 'Relay session id (Use-Path) or chat participant id.' }),
  realm: Type.String(),
  username: Type.String(),
  source: Type.String({ description: 'address:port the session was used from.' }),
  room: Type.Optional(Type.String({ description: 'Chat room URI (chat participations).' })),
  startedAt: Timestamp,
  endedAt: Timestamp,
  bytesIn: Type.Integer({ description: 'Body bytes from the user.' }),
  bytesOut: Type.Integer({ description: 'Body bytes delivered to the user.' }),
  messagesIn: Type.Integer(),
  messagesOut: Type.Integer(),
  closeReason: Type.String(),
}, { additionalProperties: false });

const Filter = {
  kind: Type.Optional(Kind),
  realm: Type.Optional(RealmName),
  user: Type.Optional(Text(256, { description: 'Only this username.' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only records that ended at or after this time.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Only records that ended before this time.' })),
};

type FilterQuery = { kind?: 'relay-session' | 'chat-participation'; realm?: string; user?: string; since?: string; until?: string };
const filterOf = (q: FilterQuery): AccountingFilter => ({
  kind: q.kind, realm: q.realm, username: q.user,
  since: q.since !== undefined ? new Date(q.since) : undefined, until: q.until !== undefined ? new Date(q.until) : undefined,
});

const view = (r: StoredAccountingRecord) => ({ ...r, startedAt: r.startedAt.toISOString(), endedAt: r.endedAt.toISOString() });

const CSV_COLUMNS = ['id', 'kind', 'sessionId', 'realm', 'username', 'source', 'room', 'startedAt', 'endedAt', 'bytesIn', 'bytesOut', 'messagesIn', 'messagesOut', 'closeReason'] as const;

/** RFC 4180 quoting; a text cell that a spreadsheet would read as a formula gets a leading quote (OWASP CSV injection). */
function csvCell(v: string | number | undefined): string {
  let s = v === undefined ? '' : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const accountingRoutes: FastifyPluginCallbackTypebox<{ ctx: RouteContext }> = (app, { ctx }, done) => {
  const tags = ['accounting'];
  app.get('/accounting', {
    schema: {
      tags, summary: 'List accounting records (newest first)',
      querystring: Type.Object({ ...PageQuery, ...Filter }, { additionalProperties: false }),
      response: { 200: PageOf(AccountingRecord), ...problems() },
    },
  }, async (req) => {
    const page = await ctx.store.accounting.list(filterOf(req.query), { limit: req.query.limit, after: decodeCursor<number>(req.query.cursor, 'number') });
    return pageResponse(page, view);
  });

  app.get('/accounting/export', {
    schema: {
      tags, summary: 'Export accounting records as CSV or JSON (newest first)',
      querystring: Type.Object({
        ...Filter,
        format: Type.Enum(['csv', 'json'], { default: 'csv' }),
        max: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100_000, description: 'Largest number of records exported.' }),
      }, { additionalProperties: false }),
      response: { ...problems() },
    },
  }, async (req, reply) => {
    const { format, max } = req.query;
    const filter = filterOf(req.query);
    const store = ctx.store;
    // The first page is read before answering, so a database failure is still a problem+json answer.
    const first = await store.accounting.list(filter, { limit: Math.min(max, 1000) });
    async function* rows(): AsyncGenerator<StoredAccountingRecord> {
      let page = first;
      let n = 0;
      for (;;) {
        for (const r of page.items) {
          if (n++ >= max) return;
          yield r;
        }
        if (page.next === undefined || n >= max) return;
        page = await store.accounting.list(filter, { limit: Math.min(max - n, 1000), after: page.next });
      }
    }
    async function* body(): AsyncGenerator<string> {
      if (format === 'csv') {
        yield `${CSV_COLUMNS.join(',')}\r\n`;
        for await (const r of rows()) {
          const v = view(r) as Record<string, string | number | undefined>;
          yield `${CSV_COLUMNS.map((c) => csvCell(v[c])).join(',')}\r\n`;
        }
        return;
      }
      yield '[';
      let sep = '';
      for await (const r of rows()) {
        yield sep + JSON.stringify(view(r));
        sep = ',\n';
      }
      yield ']\n';
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return reply
      .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="accounting-${stamp}.${format}"`)
      .send(Readable.from(body()));
  });
  done();
};
