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
