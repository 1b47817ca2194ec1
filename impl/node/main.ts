/**
 * The store node's process entry point: parse the command line, assemble the node on the
 * real platform (start-node.ts with real-platform.ts), shut down gracefully on SIGTERM/SIGINT.
 *
 *   tsx impl/node/main.ts --id n1 --peers n2=127.0.0.1:7002 ... (tests)
 *   node dist/store-node.mjs --id n1 ...                      (the image; `npm run build:node`)
 *
 * Exit status: 0 after a clean shutdown, 64 for invalid configuration (one line on stderr
 * naming the flag), 1 when storage cannot be recovered or the consensus loop fails.
 */
import { ConfigError, helpText, parseConfig } from './config.ts';
import type { NodeConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createRealPlatform } from './real-platform.ts';
import { startNode } from './start-node.ts';
import type { RunningNode } from './start-node.ts';

export { startNode };
export type { RunningNode };

export const EXIT_USAGE = 64;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  let config: NodeConfig;
  try {
    config = parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`store-node: invalid configuration: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const logger = createLogger(config.id, config.logLevel);
  let node: RunningNode;
  try {
    node = await startNode(config, logger, createRealPlatform());
  } catch (err) {
    logger.error('failed to start', { err });
    return 1;
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void node.shutdown(signal));
  }
  return node.done;
}

const invokedDirectly = process.argv[1] !== undefined && /(?:main\.ts|store-node\.m?js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      // Let stdout drain, then leave even if a stray handle lingers.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      process.stderr.write(`store-node: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
