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

/**
 * What keeps the store node deterministic under simulation (impl/node/platform.ts): outside
 * the real platform's adapters, the node's driver, the store's logic, the storage and the
 * transport reach clocks, timers, randomness, files and sockets only through the injected
 * Platform, so the same code runs on real processes and in virtual time (harness/sim/), and a
 * simulated run replays bit for bit from its seed. `allow` lifts one group for an adapter.
 * Hashing (createHash, createHmac, timingSafeEqual) stays allowed: it is deterministic.
 */
function platformRestrictions(where, allow = []) {
  const seam = `${where} reaches the world only through the injected Platform (impl/node/platform.ts)`;
  const groups = {
    fs: ['node:fs', 'node:fs/*', 'fs', 'fs/*'],
    net: ['node:net', 'net', 'node:http', 'http', 'node:https', 'https', 'node:http2', 'http2', 'node:dgram', 'dgram', 'undici'],
    timers: ['node:timers', 'node:timers/*', 'timers', 'timers/*', 'node:perf_hooks', 'perf_hooks'],
    process: ['node:child_process', 'child_process', 'node:worker_threads', 'worker_threads', 'node:cluster', 'cluster'],
  };
  const patterns = Object.entries(groups)
    .filter(([name]) => !allow.includes(name))
    .map(([name, group]) => ({ group, allowTypeImports: true, message: `${seam}: no ${name} modules.` }));
  const paths = allow.includes('random')
    ? []
    : ['node:crypto', 'crypto'].map((name) => ({
        name,
        importNames: ['randomBytes', 'randomInt', 'randomUUID', 'randomFill', 'randomFillSync', 'getRandomValues', 'webcrypto', 'generateKey', 'generateKeyPair', 'generateKeyPairSync', 'generatePrime', 'generatePrimeSync'],
        message: `${seam}: randomness is Platform.random.`,
      }));
  const globals = [];
  if (!allow.includes('clock')) {
    globals.push(
      { name: 'Date', message: `${seam}: wall time is Platform.clock.wallMs().` },
      { name: 'performance', message: `${seam}: monotonic time is Platform.clock.monotonicMs().` },
    );
  }
  if (!allow.includes('timers')) {
    for (const name of ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate']) {
      globals.push({ name, message: `${seam}: timers are Platform.timers.` });
    }
  }
  if (!allow.includes('random')) globals.push({ name: 'crypto', message: `${seam}: randomness is Platform.random.` });
  if (!allow.includes('net')) globals.push({ name: 'fetch', message: `${seam}: no sockets.` }, { name: 'WebSocket', message: `${seam}: no sockets.` });
  const properties = [];
  if (!allow.includes('random')) properties.push({ object: 'Math', property: 'random', message: `${seam}: randomness is Platform.random.` });
  if (!allow.includes('clock')) {
    properties.push(
      { object: 'process', property: 'hrtime', message: `${seam}: time is Platform.clock.` },
      { object: 'process', property: 'uptime', message: `${seam}: time is Platform.clock.` },
    );
  }
  return {
    'no-restricted-imports': 'off',
    '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }],
    'no-restricted-globals': ['error', ...globals],
    'no-restricted-properties': ['error', ...properties],
  };
}

/** Test, bench and test-support code may use whatever it needs. */
const notProduction = ['**/*.test.ts', '**/*.test-support.ts', '**/testing/**', '**/bench/**'];

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
  {
    files: ['impl/node/**/*.ts', 'impl/store/**/*.ts', 'impl/storage/**/*.ts', 'impl/transport/**/*.ts'],
    ignores: notProduction,
    rules: platformRestrictions('The store node'),
  },
  // The real platform's adapters: each may use what it adapts, and nothing else.
  { files: ['impl/node/real-time.ts'], rules: platformRestrictions('impl/node/real-time.ts', ['clock', 'timers', 'random']) },
  { files: ['impl/node/real-platform.ts'], rules: platformRestrictions('impl/node/real-platform.ts', ['timers']) },
  { files: ['impl/node/main.ts'], rules: platformRestrictions('impl/node/main.ts (the process entry)', ['timers']) },
  // The command-line parser checks that the real data dir can be created (the simulation parses with checkDataDir: false).
  { files: ['impl/node/config.ts'], rules: platformRestrictions('impl/node/config.ts', ['fs']) },
  { files: ['impl/storage/node-fs.ts'], rules: platformRestrictions('impl/storage/node-fs.ts', ['fs']) },
  { files: ['impl/transport/peer-transport.ts'], rules: platformRestrictions('impl/transport/peer-transport.ts (TCP)', ['net', 'timers', 'random']) },
  { files: ['impl/store/server.ts'], rules: platformRestrictions('impl/store/server.ts (node:http)', ['net']) },
  {
    // The simulation kernel: virtual time only. The macrotask pump and the real-I/O guard
    // hold the only references to the real timers (harness/sim/README.md).
    files: ['harness/sim/**/*.ts'],
    ignores: [...notProduction, 'harness/sim/pump.ts', 'harness/sim/guard.ts', 'harness/sim/bench.ts'],
    rules: platformRestrictions('The simulation kernel'),
  },
);
