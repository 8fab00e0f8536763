// Shared TypeBox schemas of the admin API: field types with their formats and limits,
// the problem document, pagination. Route files build resource schemas from these.
import Type, { type TSchema } from 'typebox';
import { PROBLEM_CONTENT_TYPE } from './errors.ts';

export const Text = (maxLength: number, o: Record<string, unknown> = {}) => Type.String({ maxLength, format: 'text', ...o });

export const RealmName = Type.String({ minLength: 1, maxLength: 253, format: 'realm-name', description: 'Digest realm, usually a domain name.', examples: ['example.com'] });
export const Username = Type.String({ minLength: 1, maxLength: 64, format: 'username', description: 'SIP user part and Digest username.', examples: ['alice'] });
export const RoomName = Type.String({ minLength: 1, maxLength: 64, format: 'room-name', description: 'Room name, as the ChatRoom spec.name.', examples: ['lobby'] });
export const Password = Type.String({ minLength: 8, maxLength: 256, format: 'text', description: 'Write-only: stored as HA1 digests (RFC 7616 §3.4.2), never returned.' });
export const SipUri = Type.String({ minLength: 1, maxLength: 512, format: 'sip-uri', description: 'sip: or sips: URI with a user part.', examples: ['sips:lobby@chat.example.com'] });
export const UriPattern = Type.String({ minLength: 1, maxLength: 512, format: 'uri-pattern', description: 'sip:/sips: URI where * matches any run of characters.', examples: ['sip:*@example.com'] });
export const Timestamp = Type.String({ format: 'date-time' });

export const FieldError = Type.Object({
  field: Type.String({ description: 'Dotted path of the failing field, e.g. policy.allow[0].' }),
  message: Type.String(),
  in: Type.Optional(Type.Enum(['body', 'query', 'path', 'header'])),
});

export const Problem = Type.Object({
  type: Type.String({ description: 'Stable problem type URI, https://msrp.dev/problems/<code>.' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(FieldError)),
}, { description: 'RFC 9457 problem details.' });

/** Error responses for the OpenAPI document (bodies are sent by the error handler). */
export function problems(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const s of [400, 401, 403, ...statuses, 503]) {
    out[s] = { description: 'Problem details', content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } };
  }
  return out;
}

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Largest number of items in the page.' }),
  cursor: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[A-Za-z0-9_-]*$', description: 'nextCursor of the previous page (opaque).' })),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Optional(Type.String({ description: 'Pass as ?cursor= for the next page; absent on the last page.' })),
  });
}

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ maxLength: 128, description: 'ETag from a GET: the write happens only if the resource is still at that version (else 412).' })),
});
