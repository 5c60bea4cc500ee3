import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/protocol/src/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Pure core: no I/O modules (CONVENTIONS rule 5).
    files: [
      'packages/protocol/src/**/*.ts',
      'packages/control-plane/src/model/**/*.ts',
      'packages/control-plane/src/snapshot/**/*.ts',
      'packages/sidecar/src/routing/**/*.ts',
      'packages/sidecar/src/balancer/**/*.ts',
    ],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:net', 'node:http', 'node:http2', 'node:fs', 'node:fs/*', 'node:dgram', 'node:child_process'], message: 'pure module: no I/O' },
          { group: ['@grpc/*', 'hono', 'hono/*', '@hono/*', '@kubernetes/*'], message: 'pure module: no gRPC, hono or Kubernetes client' },
        ],
      }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', Buffer: 'readonly', fetch: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
  },
);
