import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEGIN, DOC, END, renderConfigSection, withSection } from './render-config-docs.ts';

describe('docs/relay.md configuration reference', () => {
  it('is up to date with the engine schema (render-config-docs.ts --check)', () => {
    const script = fileURLToPath(new URL('./render-config-docs.ts', import.meta.url));
    // Throws (exit 1) when stale: run `node scripts/render-config-docs.ts`.
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  });

  it('lists every option with its environment variable and default', () => {
    const section = renderConfigSection();
    for (const [path, env, def] of [
      ['limits.maxNonSendBodyBytes', 'MSRP_LIMITS__MAX_NON_SEND_BODY_BYTES', '`10240`'],
      ['nextHops.allowPrivate', 'MSRP_NEXT_HOPS__ALLOW_PRIVATE', '`false`'],
      ['tls.pollIntervalMs', 'MSRP_TLS__POLL_INTERVAL_MS', '`10000`'],
      ['auth.algorithms', 'MSRP_AUTH__ALGORITHMS', '`["SHA-256","MD5"]`'],
    ]) {
      assert.match(section, new RegExp(`\\| \`${path!.replace('.', '\\.')}\` \\| \`${env}\` \\| .+? \\| ${def!.replace(/[[\]]/g, '\\$&')} \\|`), path);
    }
  });

  it('replaces only the marked section', () => {
    const doc = `intro\n${BEGIN}\nold\n${END}\noutro\n`;
    assert.equal(withSection(doc, `${BEGIN}\nnew\n${END}`), `intro\n${BEGIN}\nnew\n${END}\noutro\n`);
    assert.throws(() => withSection('no markers', 'x'));
    assert.ok(readFileSync(DOC, 'utf8').includes(END));
  });
});
