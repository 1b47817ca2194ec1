/** `npm run check -- ARGV` in-process, for tests: its exit status and what it printed. */
import { main } from '../cli.ts';

export async function runCheckCli(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await main(
    argv,
    (s) => (out += s),
    (s) => (err += s),
  );
  return { status, out, err };
}
