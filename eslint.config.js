import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// Import boundaries (CONTRIBUTING.md §2). Each pattern matches the import specifier as written;
// every import in these folders is relative, so a folder name preceded by `/` (or at the start)
// names the folder. Flat config replaces a rule's options when a later block matches the same
// file, so each block below lists every boundary that applies to its files, general ones first.
// Folder-level cycles are checked separately by scripts/check-import-cycles.ts (npm run lint).
const SRC_NO_TESTS = {
  regex: '(^|/)(test|bench)/',
  message: 'src/ never imports tests or benchmarks.',
};
const CORE_NO_CLI = {
  regex: '(^|/)(cli|commands)/',
  message: 'src/core/ never imports the CLI (src/cli/, src/commands/): the CLI calls the core.',
};
const noArtifacts = (folder) => ({
  regex: '(^|/)artifacts/',
  message: `src/core/${folder}/ never imports src/core/artifacts/: the artifact feature builds on it, not the reverse.`,
});
// Feature folders plug into the request pipeline that server/gateway.ts composes: they may name
// its types, never run its code.
const FEATURE_FOLDERS = ['upstream', 'artifacts', 'mtls', 'device-system'];
const SERVER_TYPES_ONLY = {
  regex: '(^|/)server/(exchange|interceptor)\\.js$',
  allowTypeImports: true,
  message: 'Feature folders import only types from server/exchange.js and server/interceptor.js.',
};
const NO_SERVER = {
  regex: '(^|/)server/(?!(exchange|interceptor)\\.js$)',
  message: 'Feature folders never import server/: server/gateway.ts composes them.',
};
const TEST_NO_BENCH = {
  regex: '(^|/)bench/',
  message: 'Tests never import bench/: move what both need to test/support/.',
};
const UNIT_NO_DIST = {
  regex: '(^|/)dist/|^@oclif/test$',
  message: 'Unit tests run on src/, never the build: a test that loads dist/ is an integration test.',
};
const SUPPORT_SELF_CONTAINED = {
  regex: '(^|/)(unit|integration|e2e|soak|fixtures)/',
  message: 'test/support/ is the shared package: it never imports a lane of tests.',
};
const FAKE_UPSTREAM_NO_SRC = {
  regex: '(^|/)src/',
  message: 'The fake upstream is an independent Mender server: it never imports src/.',
};
const BENCH_ONLY_SUPPORT = {
  regex: '(^|/)test/(?!support/)',
  message: 'Benchmarks share code with tests only through test/support/.',
};
const boundary = (files, ...patterns) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'coverage/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-extraneous-class': 'off',
      'no-console': 'error',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['src/commands/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  boundary(['src/**/*.ts'], SRC_NO_TESTS),
  boundary(['src/core/**/*.ts'], SRC_NO_TESTS, CORE_NO_CLI),
  boundary(['src/core/cache/**/*.ts'], SRC_NO_TESTS, CORE_NO_CLI, noArtifacts('cache')),
  boundary(['src/core/metrics/**/*.ts'], SRC_NO_TESTS, CORE_NO_CLI, noArtifacts('metrics')),
  boundary(
    FEATURE_FOLDERS.map((folder) => `src/core/${folder}/**/*.ts`),
    SRC_NO_TESTS,
    CORE_NO_CLI,
    SERVER_TYPES_ONLY,
    NO_SERVER,
  ),
  boundary(['test/**/*.ts'], TEST_NO_BENCH),
  boundary(['test/unit/**/*.ts'], TEST_NO_BENCH, UNIT_NO_DIST),
  boundary(['test/support/**/*.ts'], TEST_NO_BENCH, SUPPORT_SELF_CONTAINED),
  boundary(
    ['test/support/fake-upstream/**/*.ts'],
    TEST_NO_BENCH,
    SUPPORT_SELF_CONTAINED,
    FAKE_UPSTREAM_NO_SRC,
  ),
  boundary(['bench/**/*.ts'], BENCH_ONLY_SUPPORT),
  prettier,
);
