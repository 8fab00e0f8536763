// Flat config: typescript-eslint's type-aware recommended rules over all TypeScript sources,
// plus the layering of internal/ (docs/architecture.md §2.2), checked by
// scripts/lint-layers.test.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ---- Layering (docs/architecture.md §2.2) ------------------------------------------------
// Test-only code: `*.test.ts`, `*.e2e.ts` (slow suites run by their own npm script), and test helpers, whose file name starts with `test`
// (teststore.ts, testcerts.ts) or which sit in a `testdata/` folder; everything under e2e/
// and bench/. Production code (the rest of internal/, cmd/, scripts/) imports none of it.
const TESTS = ['**/*.test.ts', '**/*.e2e.ts'];
const HELPERS = ['**/test*.ts', '**/testdata/**/*.ts'];

// Modules that do I/O: sockets, files, processes, databases, HTTP, Kubernetes; plus logging
// and metrics (the protocol folders return values and errors, their callers log).
const IO_MODULES = [
  'net', 'tls', 'dgram', 'http', 'https', 'http2', 'fs', 'fs/promises', 'child_process', 'dns', 'dns/promises',
  'worker_threads', 'cluster', 'readline',
].flatMap((m) => [m, `node:${m}`]).concat([
  'pg', '@electric-sql/pglite', 'fastify', 'undici', '@kubernetes/client-node', 'pino', 'prom-client',
]);
const TEST_MODULES = ['node:test', 'node:assert', 'node:assert/strict', 'assert', 'assert/strict', 'fast-check'];

// Folders of internal/ in layers, lowest first (docs/architecture.md §2.1).
const PROTOCOL = ['msrp', 'sip', 'auth'];
// chat/ is the chat server: its two halves, focus/ (SIP, RFC 7701 §5) and switch/ (MSRP), and
// the files directly in chat/ that assemble them (server, config, replicas, control endpoint).
const FEATURES = ['transport', 'store', 'relay', 'mesh', 'engine', 'chat', 'admin', 'operator', 'client'];
/** The chat server's assembly, seen from one of its halves: a file directly in chat/. */
const CHAT_ASSEMBLY_FROM_HALF = '^\\.\\./[^./][^/]*\\.ts$';
const ALL = [...PROTOCOL, 'config', 'telemetry', ...FEATURES];

/** What each folder of internal/ must not import (besides test-only code), and why. */
const FORBIDDEN = {
  msrp: { folders: ALL.filter((f) => !PROTOCOL.includes(f)), modules: IO_MODULES, why: 'protocol folders are pure: no I/O, no higher layer' },
  sip: { folders: ALL.filter((f) => !PROTOCOL.includes(f)), modules: IO_MODULES, why: 'protocol folders are pure: no I/O, no higher layer (SIP sockets are internal/transport/sip.ts)' },
  auth: { folders: ALL.filter((f) => !PROTOCOL.includes(f)), modules: IO_MODULES, why: 'protocol folders are pure: no I/O, no higher layer' },
  config: { folders: ['telemetry', ...FEATURES], modules: [], why: 'config imports no feature folder: each feature reads its section' },
  telemetry: { folders: ['config', ...FEATURES], modules: [], why: 'telemetry is below every feature' },
  transport: { folders: FEATURES.filter((f) => f !== 'transport'), modules: [], why: 'transport knows sockets and framing, not what runs over them' },
  store: { folders: FEATURES.filter((f) => f !== 'store'), modules: [], why: 'the store knows tables, not the features that use them' },
  relay: { folders: ['engine', 'chat', 'admin', 'operator', 'client'], modules: [], why: 'the relay does not know the engine that assembles it, the chat server, the admin sidecar, the operator or the client' },
  'chat/switch': { folders: ['engine', 'relay', 'focus', 'admin', 'operator', 'client'], regexes: [CHAT_ASSEMBLY_FROM_HALF], modules: [], why: 'the MSRP switch does not know the engine, the relay, the SIP focus above it, the chat server that assembles it, the admin sidecar, the operator or the client' },
  'chat/focus': { folders: ['engine', 'admin', 'operator', 'client'], regexes: [CHAT_ASSEMBLY_FROM_HALF], modules: [], why: 'the focus does not know the engine, the chat server that assembles it, the admin sidecar, the operator or the client' },
  chat: { files: ['internal/chat/*.ts'], helpers: ['internal/chat/test*.ts', 'internal/chat/testdata/**/*.ts'], folders: ['engine', 'admin', 'operator', 'client'], modules: [], why: 'the chat server does not know the engine that assembles it, the admin sidecar, the operator or the client' },
  engine: { folders: ['admin', 'operator', 'client'], modules: [], why: 'the engine assembles the store, the relay and the chat server; the admin sidecar, the operator and the client are other processes' },
  admin: { folders: ['transport', 'relay', 'mesh', 'engine', 'chat', 'operator', 'client'], modules: [], why: 'the admin sidecar reaches the engine over HTTP only' },
  operator: { folders: ['store', 'relay', 'mesh', 'engine', 'chat', 'admin', 'client', ...PROTOCOL], modules: [], why: 'the operator never imports the engine or the admin app' },
  client: { folders: ['store', 'relay', 'mesh', 'engine', 'chat/focus', 'admin', 'operator'], regexes: ['^(\\.\\./)+chat/[^/]+\\.ts$'], modules: [], why: 'the client is a peer: protocol and sockets only (of the chat server, only the switch\'s URI rules)' },
  // web/: the bundler and the server of the chat page (used by the engine), and page/, the
  // browser code: the pure protocol folders and its own files only (no Node, no server side).
  web: { folders: FEATURES, modules: [], why: 'the page server bundles and serves the page; the engine wires it to the relay' },
  'web/page': { folders: ALL.filter((f) => !PROTOCOL.includes(f)), regexes: ['^\\.\\./[^.]'], modules: [...IO_MODULES, 'node:crypto', 'crypto', 'esbuild', 'ws'], why: 'the chat page runs in the browser: the pure protocol folders (msrp, sip, auth) and its own files only' },
};

const folderPattern = (folders, why) => ({
  regex: `^(\\.\\./)+(${folders.join('|')})/`,
  message: `Layering (docs/architecture.md §2.2): ${why}.`,
});
const regexPattern = (regex, why) => ({ regex, message: `Layering (docs/architecture.md §2.2): ${why}.` });
const testOnlyPattern = {
  regex: '(^|/)(test[^/]*\\.ts$|[^/]*\\.(test|e2e)\\.ts$|testdata/)|(^|/)(e2e|bench)/',
  message: 'Layering (docs/architecture.md §2.2): production code imports no test-only code (*.test.ts, *.e2e.ts, test*.ts, testdata/, e2e/, bench/).',
};
const restrict = ({ folders = [], regexes = [], modules = [], why = '', testOnly = false }) => [
  'error',
  {
    paths: [
      ...modules.map((name) => ({ name, message: `Layering (docs/architecture.md §2.2): ${why}.` })),
      ...(testOnly ? TEST_MODULES.map((name) => ({ name, message: testOnlyPattern.message })) : []),
    ],
    patterns: [...(folders.length > 0 ? [folderPattern(folders, why)] : []), ...regexes.map((r) => regexPattern(r, why)), ...(testOnly ? [testOnlyPattern] : [])],
  },
];

// One block per folder and kind of file: flat config replaces a rule's options instead of
// merging them, so each file gets exactly one block. Test files are exempt: like cmd/, they wire.
// Type-only imports count too (typescript-eslint's rule, allowTypeImports off).
const layering = [
  { files: ['internal/**/*.ts', 'cmd/**/*.ts', 'scripts/**/*.ts'], ignores: [...TESTS, ...HELPERS], rules: { '@typescript-eslint/no-restricted-imports': restrict({ testOnly: true }) } },
  // A folder's rule covers its subfolders unless it names its files (chat/: only the assembly).
  ...Object.entries(FORBIDDEN).flatMap(([folder, { files = [`internal/${folder}/**/*.ts`], helpers = HELPERS.map((h) => `internal/${folder}/${h}`), ...rule }]) => [
    { files, ignores: [...TESTS, ...HELPERS], rules: { '@typescript-eslint/no-restricted-imports': restrict({ ...rule, testOnly: true }) } },
    { files: helpers, ignores: TESTS, rules: { '@typescript-eslint/no-restricted-imports': restrict(rule) } },
  ]),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'e2e/cluster/.cache/**', 'charts/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      // node:test's describe/it return promises that the runner awaits itself.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-control-regex': 'off',
      // Private members are #fields and #methods (docs/architecture.md §2.3); the keyword only on constructors.
      'no-restricted-syntax': ['error',
        { selector: 'PropertyDefinition[accessibility="private"], TSParameterProperty[accessibility="private"], MethodDefinition[accessibility="private"][kind!="constructor"], TSAbstractPropertyDefinition[accessibility="private"]', message: 'Private members are #fields and #methods (docs/architecture.md §2.3); TypeScript\'s `private` only on constructors.' },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/*.e2e.ts', 'bench/**/*.ts', 'e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  ...layering,
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
