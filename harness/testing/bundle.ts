/**
 * Tests build their own copy of the store node bundle (package.json's `build:node` with a
 * private --outfile), so test files running in parallel never read a bundle another one is
 * still writing to dist/.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../docker/images.ts';

export function buildPrivateBundle(name: string): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const script = pkg.scripts?.['build:node'];
  if (script === undefined) throw new Error('package.json has no build:node script: the store node cannot be built');
  const dir = join(REPO_ROOT, '.tmp', 'bundles');
  mkdirSync(dir, { recursive: true });
  // The file name ends in store-node.mjs: the node runs only when invoked under that name (impl/node/main.ts).
  const out = join(dir, `${name}-${process.pid}.store-node.mjs`);
  const cmd = script.replace(/--outfile=\S+/, `--outfile=${out}`).replace(/^esbuild /, 'npx esbuild ');
  if (!cmd.includes(out)) throw new Error(`build:node has no --outfile=... to redirect: ${script}`);
  execSync(cmd, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}
