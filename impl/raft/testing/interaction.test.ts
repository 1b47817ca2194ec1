/**
 * Golden-file interaction tests: every `impl/raft/testdata/*.txt` script is replayed and its
 * output compared with the expected text. Regenerate after an intended change with
 *   REWRITE_GOLDEN=1 npx vitest run impl/raft/testing
 * and review the diff (`git diff impl/raft/testdata`) before committing: the golden output
 * is the claim about Raft's behaviour, not just a record of what the code did.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InteractionEnv, parseDataDriven, renderDataDriven, runScript } from './interaction.ts';

const testdata = join(dirname(fileURLToPath(import.meta.url)), '..', 'testdata');
const rewrite = process.env['REWRITE_GOLDEN'] === '1';
const scripts = readdirSync(testdata)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('interaction scripts (testdata/*.txt)', () => {
  it('has the required scripts', () => {
    for (const required of [
      'figure-8.txt',
      'stale-leader-rejoins.txt',
      'pre-vote.txt',
      'check-quorum.txt',
      'snapshot.txt',
      'membership.txt',
      'leadership-transfer.txt',
      'read-index.txt',
      'persist-before-reply.txt',
    ]) expect(scripts).toContain(required);
  });

  for (const name of scripts) {
    it(name, () => {
      const path = join(testdata, name);
      const text = readFileSync(path, 'utf8');
      expect(text.startsWith('#'), `${name} must start with comments explaining what it shows`).toBe(true);
      const { parsed, outputs } = runScript(text, `testdata/${name}`);
      if (rewrite) {
        writeFileSync(path, renderDataDriven(parsed, outputs));
        return;
      }
      parsed.blocks.forEach((b, i) => {
        expect(outputs[i], `testdata/${name}:${b.line}: ${b.command}`).toBe(b.expected);
      });
    });
  }
});

describe('interaction file format', () => {
  it('round-trips comments, commands and outputs', () => {
    const text = '# what it shows\n\nadd-nodes 1\n----\nok\n\n# more\nraft-state\n----\na\nb\n';
    const parsed = parseDataDriven(text, 'x.txt');
    expect(parsed.blocks.map((b) => b.command)).toEqual(['add-nodes 1', 'raft-state']);
    expect(renderDataDriven(parsed, parsed.blocks.map((b) => b.expected))).toBe(text);
  });

  it('names the file and line of a malformed block', () => {
    expect(() => parseDataDriven('# c\ncampaign 1\nok\n', 'bad.txt')).toThrow('bad.txt:2: command "campaign 1" must be followed by a "----" line');
  });

  it('rejects unknown commands and options with a clear error', () => {
    const env = new InteractionEnv();
    expect(() => env.run('fly 1')).toThrow('unknown command "fly"');
    expect(() => env.run('add-nodes 3 colour=blue')).toThrow('add-nodes: unknown option "colour"');
    expect(() => env.run('campaign 9')).toThrow('campaign: no node 9');
  });
});
