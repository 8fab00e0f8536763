// Keyset pagination shared by the admin-facing store methods: a page is the rows after
// a key in key order, at most `limit` of them, and says which key to continue after.
// Keyset (not OFFSET) so that a page costs the same wherever it starts and rows
// inserted meanwhile neither repeat nor vanish.

export interface PageRequest<K> {
  /** Continue after this key (exclusive); from the start when absent. */
  after?: K | undefined;
  limit: number;
}

export interface Page<T, K> {
  items: T[];
  /** The key to pass as `after` for the next page; absent on the last page. */
  next?: K | undefined;
}

/** Rows were fetched with LIMIT limit+1: the extra row only says that more exist. */
export function pageOf<T, K>(rows: T[], limit: number, keyOf: (t: T) => K): Page<T, K> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: keyOf(items[items.length - 1]!) };
}
