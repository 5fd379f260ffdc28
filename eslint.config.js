// Lint: TypeScript rules everywhere (type-aware ones too: no floating or misused promises), plus
// the package boundaries — a package is entered only through its entry points (`@gramfleet/x`,
// or `@gramfleet/x/internal` / `/testing` where the package has them: never
// `@gramfleet/x/dist/…`, `…/src/…`, nor a relative path into another package), and workflows/
// may import only @temporalio/workflow and @gramfleet/core (no Node built-ins, NATS,
// orchestrator or workers). Import cycles are refused by test/src/boundaries/boundaries.test.ts.
'use strict';
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

/** Imports that reach into another package instead of through its entry points. */
const deepImports = [
  {
    regex: '^@gramfleet/[^/]+/(?!(internal|testing)$)',
    message: "import a package through its entry points: '@gramfleet/x', or '@gramfleet/x/internal' / '/testing' where it has them (add the name there)",
  },
  {
    regex: '^(\\.\\./)+(core|workflows|workers|orchestrator|gpu-workers|wasm|test)(/|$)',
    message: "import another package by its name ('@gramfleet/x'), not by a relative path into its files",
  },
];

module.exports = tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'wasm/**', 'bench/**', '.gramfleet/**', '**/*.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    // Type-aware rules read each file's types through its package's tsconfig.json.
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      'no-restricted-imports': ['error', { patterns: deepImports }],
    },
  },
  {
    files: ['**/*.test.ts', 'orchestrator/src/cli/main.ts', 'orchestrator/src/cli/demo.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // One config module per process kind reads the environment (docs/config.md); the rest is
    // handed its values. Tests and the test harness set and read their own variables.
    files: ['**/*.ts'],
    ignores: ['**/config.ts', '**/*.test.ts', 'test/src/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: "read environment variables in the process kind's config.ts (listed in docs/config.md); pass the values down",
        },
      ],
    },
  },
  {
    files: ['workflows/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].map((name) => ({
            name,
            message: 'workflows run in the deterministic Temporal sandbox: no Node built-ins',
          })),
          patterns: [
            ...deepImports,
            {
              group: [
                '@nats-io/*',
                '@gramfleet/orchestrator',
                '@gramfleet/workers',
                '@gramfleet/wasm',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
              ],
              message: 'workflows may import only @temporalio/workflow and @gramfleet/core',
            },
          ],
        },
      ],
    },
  },
);
