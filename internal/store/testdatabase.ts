// Test support: a database of its own on the PostgreSQL server of DATABASE_URL, so test files
// that run at once never see each other's rows (CREATE DATABASE with a random name; the
// dropper removes it even with connections left open).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export async function freshDatabase(url: string, prefix = 'msrp_test'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
