// Configuration errors carry every failing field at once, so an operator fixes a
// config in one round instead of one field per restart.

export interface ConfigIssue {
  /** Dotted path with indices, e.g. `relay.listen[0].port`; empty for the root. */
  readonly path: string;
  /** Human message, e.g. `must be <= 65535 (got 70000)`. */
  readonly message: string;
  /** Where the value came from: an env var name, a file path, or undefined for defaults. */
  readonly source?: string | undefined;
}

export type ConfigErrorCode = 'config-file' | 'config-invalid';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];
  constructor(code: ConfigErrorCode, issues: readonly ConfigIssue[]) {
    super(
      `${code === 'config-file' ? 'configuration file error' : 'invalid configuration'}:\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.code = code;
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.path === '' ? '(root)' : i.path}: ${i.message}${i.source ? ` from ${i.source}` : ''}`;
}
