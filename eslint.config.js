// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What keeps the Raft core pure: no I/O, no wall clock, no ambient randomness, no async. */
const rawNodeRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        { group: ['node:*'], message: 'impl/raft is a pure state machine: no Node.js built-ins.' },
        {
          group: ['fs', 'fs/*', 'net', 'http', 'https', 'os', 'path', 'child_process', 'crypto', 'timers', 'timers/*', 'worker_threads'],
          message: 'impl/raft is a pure state machine: no I/O modules.',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'Date', message: 'Time in impl/raft is ticks; no wall clock.' },
    { name: 'setTimeout', message: 'Time in impl/raft is ticks; no timers.' },
    { name: 'setInterval', message: 'Time in impl/raft is ticks; no timers.' },
    { name: 'setImmediate', message: 'Time in impl/raft is ticks; no timers.' },
    { name: 'queueMicrotask', message: 'impl/raft is synchronous.' },
    { name: 'process', message: 'impl/raft has no process access.' },
    { name: 'Promise', message: 'impl/raft is synchronous: no promises.' },
    { name: 'performance', message: 'Time in impl/raft is ticks; no wall clock.' },
    { name: 'crypto', message: 'Randomness in impl/raft is injected.' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'Randomness in impl/raft is injected (seeded RNG).' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: 'FunctionDeclaration[async=true]', message: 'impl/raft is synchronous.' },
    { selector: 'FunctionExpression[async=true]', message: 'impl/raft is synchronous.' },
    { selector: 'ArrowFunctionExpression[async=true]', message: 'impl/raft is synchronous.' },
    { selector: 'AwaitExpression', message: 'impl/raft is synchronous.' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'results/**', 'dist/**', '.tmp/**', 'docker/build/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Test and bench code in the core may use whatever it needs; the core itself may not.
    files: ['impl/raft/**/*.ts'],
    ignores: ['impl/raft/**/*.test.ts', 'impl/raft/bench/**', 'impl/raft/testing/**'],
    rules: rawNodeRestrictions,
  },
);
