import { readAccounts } from '../cpanel/accounts.js';
import { checkDomains } from '../dane/check.js';
import { VERDICTS, type DomainCheck, type TlsaAnswerSize } from '../dane/verdict.js';
import { ProblemError } from '../problem.js';
import { json, type Command } from './types.js';

/** Validating verdicts: a DANE sender authenticates (expiring still authenticates). */
export function validates(c: DomainCheck): boolean {
  return c.verdict === 'valid' || c.verdict === 'expiring';
}

function progressBar(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

function answerSize(a: TlsaAnswerSize): string {
  if (a.bytes === null) return a.truncated ? 'truncated over UDP, no TCP answer' : 'size unknown';
  return `signed answer ${a.bytes} bytes${a.truncated ? ', truncated over UDP at 1232 (TCP needed)' : ', fits 1232 (UDP)'}`;
}

function text(results: DomainCheck[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const v = VERDICTS[r.verdict];
    lines.push(`${r.domain}: ${v.label.toUpperCase()} — ${r.message}${r.fix && r.verdict !== 'valid' ? `\n  fix: ${r.fix}` : ''}`);
    for (const mx of r.mx) {
      lines.push(`  MX ${mx.preference} ${mx.host}${mx.expandedHost !== mx.host ? ` (CNAME → ${mx.expandedHost})` : ''}: ${VERDICTS[mx.verdict].label}`);
      for (const a of mx.tlsaAnswers ?? []) lines.push(`    TLSA ${a.owner}: ${a.records} record(s), ${answerSize(a)}`);
      for (const p of mx.ports) lines.push(`    ${p.address}:${p.port} ${VERDICTS[p.verdict].label}: ${p.message}`);
    }
    for (const p of r.problems ?? []) lines.push(`  ${p.severity ?? 'warning'} ${p.code}: ${p.message}${p.fix ? `\n    fix: ${p.fix}` : ''}`);
  }
  return lines.join('\n');
}

export const checkCommand: Command = {
  async run({ ctx, values, args }) {
    let domains = args;
    if (values.all) domains = readAccounts(ctx!.root).domains.map((d) => d.domain);
    if (domains.length === 0) throw new ProblemError({ code: 'usage', message: 'check needs one or more domains, or --all' });
    const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) {
      throw new ProblemError({ code: 'usage', message: '--concurrency must be a whole number from 1 to 256' });
    }
    const progress = values.json ? undefined : progressBar();
    const results = await checkDomains(ctx!, domains, {
      ...(values.resolver ? { resolver: values.resolver as string } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(progress ? { onProgress: progress } : {}),
    });
    const ok = results.every(validates);
    return { output: values.json ? json(results) : text(results), exitCode: ok ? 0 : 1 };
  },
};
