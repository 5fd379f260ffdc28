// Lint: TypeScript rules everywhere, plus the workflow boundary — workflows/ may import only
// @temporalio/workflow and @gramfleet/core (no Node built-ins, NATS, orchestrator or workers).
'use strict';
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

module.exports = tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'wasm/**', 'bench/**', '.gramfleet/**', '**/*.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
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
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: "read environment variables in the process kind's config.ts (listed in docs/config.md); pass the values down" }],
    },
  },
  {
    files: ['workflows/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].map((name) => ({ name, message: 'workflows run in the deterministic Temporal sandbox: no Node built-ins' })),
        patterns: [
          { group: ['@nats-io/*', '@gramfleet/orchestrator', '@gramfleet/workers', '@gramfleet/wasm', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'workflows may import only @temporalio/workflow and @gramfleet/core' },
        ],
      }],
    },
  },
);
