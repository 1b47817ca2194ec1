/**
 * Print what a golden script produces now, without touching the file (for writing new
 * scripts): `npx tsx impl/raft/testing/run-script.ts impl/raft/testdata/figure-8.txt`.
 */
import { readFileSync } from 'node:fs';
import { renderDataDriven, runScript } from './interaction.ts';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: run-script.ts <testdata file>');
const { parsed, outputs } = runScript(readFileSync(file, 'utf8'), file);
process.stdout.write(renderDataDriven(parsed, outputs));
