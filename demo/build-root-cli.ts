#!/usr/bin/env node
import { buildDemoRoot } from './build-root.js';
import { explain } from './util.js';
import type { ScaleShape } from './scenario.js';

/**
 * `node .demo/build/build-root-cli.js DIR [--domains N] [--seed N] [--shape mixed|account-cert] [--force]`
 * Builds a fake cPanel root for the demo (see build-root.ts) and prints a one-line summary.
 */

const USAGE = 'usage: build-root-cli DIR [--domains N] [--seed N] [--shape mixed|account-cert] [--force]';

interface CliArgs {
  dir: string;
  domains?: number;
  seed?: number;
  shape?: ScaleShape;
  force: boolean;
}

function positiveInt(flag: string, value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) {
    throw new Error(`${flag} needs a whole number from 1 to 1000000, got ${value === undefined ? 'nothing' : JSON.stringify(value)}. ${USAGE}`);
  }
  return Number(value);
}

export function parseArgs(argv: string[]): CliArgs {
  let dir: string | undefined;
  const out: Omit<CliArgs, 'dir'> = { force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--force') out.force = true;
    else if (a === '--domains') out.domains = positiveInt(a, argv[++i]);
    else if (a === '--seed') out.seed = positiveInt(a, argv[++i]);
    else if (a === '--shape') {
      const v = argv[++i];
      if (v !== 'mixed' && v !== 'account-cert') throw new Error(`--shape must be mixed or account-cert, got ${v === undefined ? 'nothing' : JSON.stringify(v)}. ${USAGE}`);
      out.shape = v;
    }
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}. ${USAGE}`);
    else if (dir === undefined) dir = a;
    else throw new Error(`only one directory may be given. ${USAGE}`);
  }
  if (dir === undefined) throw new Error(`no directory given. ${USAGE}`);
  return { dir, ...out };
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const started = Date.now();
  try {
    const { dir, ...opts } = args;
    const m = await buildDemoRoot(dir, opts);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(`demo root ${dir}: ${m.accounts.length} accounts, ${m.domains.length} domains in ${secs}s; manifest ${dir}/demo-manifest.json\n`);
  } catch (err) {
    process.stderr.write(`${explain(err)}\n`);
    process.exit(1);
  }
}

await main();
