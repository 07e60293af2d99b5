import { storedStates } from '../mtasts/store.js';
import { publishedMarks } from '../checks/scheduled.js';
import { tlsrptTotals } from '../tlsrpt/import.js';
import { createInterface } from 'node:readline/promises';
import { latestDnssec } from '../dnssec/watch.js';
import { summarizeCertificate } from '../cpanel/scan.js';
import { Providers } from '../provider-instances.js';
import { normalizeName } from '../dns/names.js';
import { applyPlan, makePlan, refusalMatters, refusalMessage, type RunPlan } from '../plan/run.js';
import { afterMtaStsApply, serveThenPlan } from '../mtasts/run.js';
import { describeSettled, recoverInterrupted } from '../plan/recover.js';
import { auditCsv, auditRows, checkProblemCodes, type CheckSummary } from '../report/audit.js';
import { auditInput } from '../plan/view.js';
import { table } from '../report/table.js';
import { formatRecord } from '../tlsa/types.js';
import { formatManaged } from '../dns/records.js';
import { problem, ProblemError } from '../problem.js';
import type { AppContext } from '../context.js';
import { storedOr } from '../state/per-state.js';
import { json, type Command, type Values } from './types.js';
import { writeJsonObject } from './json-stream.js';

function domainsOption(values: Values): string[] | undefined {
  const d = values.domain as string[] | undefined;
  return d?.map((x) => normalizeName(x, '--domain'));
}

export const scanCommand: Command = {
  async run({ ctx, values }) {
    const plan = await makePlan(ctx!, new Providers(ctx!), { useState: false, kinds: true });
    const s = plan.scan;
    const endpoints = s.endpoints.map((e) => ({
      host: e.host,
      domains: e.domains,
      certificate: e.served ? summarizeCertificate(e.served) : null,
      problems: e.problems,
    }));
    if (values.json) {
      return { output: json({ hostname: s.hostname, addresses: s.addresses, domains: s.domains, endpoints, problems: s.problems }), exitCode: 0 };
    }
    const out = [
      `Server ${s.hostname ?? '(unknown hostname)'} — addresses ${s.addresses.join(', ') || '(none found)'}`,
      '',
      table(
        ['DOMAIN', 'OWNER', 'MAIL', 'MX', 'PROBLEMS'],
        s.domains.map((d) => [d.domain, d.owner, d.mail, d.mx.map((m) => `${m.host}${m.pointsHere ? ' (here)' : ''}`).join(', '), d.problems.map((p) => p.code).join(' ')]),
      ),
      '',
      table(
        ['MX HOST HERE', 'CERTIFICATE', 'RULE', 'NOT AFTER', '3 1 1', 'DOMAINS', 'PROBLEMS'],
        endpoints.map((e) => [e.host, e.certificate?.source ?? '-', e.certificate?.rule ?? '-', e.certificate?.notAfter.slice(0, 10) ?? '-', e.certificate ? `${e.certificate.spkiSha256.slice(0, 16)}…` : '-', e.domains.length, e.problems.map((p) => p.code).join(' ')]),
      ),
      ...s.problems.map((p) => `problem: ${p.message}`),
    ];
    return { output: out.join('\n'), exitCode: 0 };
  },
};

function planText(plan: RunPlan): string {
  const lines: string[] = [];
  for (const z of plan.zones) {
    lines.push(`zone ${z.zone} (${z.provider}): ${z.changes.length === 0 ? 'in sync' : `${z.changes.length} change(s)`}`);
    for (const c of z.changes) lines.push(`  ${c.kind === 'create' ? '+' : '-'} ${formatManaged(c.record)}  ; ${c.reason}`);
    for (const w of z.waiting) lines.push(`  = ${formatManaged(w.record)}  ; kept: ${w.reason}${w.until ? ` (until ${w.until})` : ''}`);
    for (const f of z.foreign) lines.push(`  ! ${formatManaged(f)}  ; not created by TLSA Manager, left alone`);
    for (const d of z.deferred) lines.push(`  > ${formatRecord(d.record)}  ; deferred: ${d.reason} (${d.record.reason})`);
    for (const o of z.overBudget) lines.push(`  x ${formatRecord(o.record)}  ; not published, ${o.reason} (${o.record.reason})`);
    if (z.blocked) lines.push(`  blocked: ${z.blocked.message} ${z.blocked.fix ?? ''}`);
    for (const w of z.warnings) lines.push(`  warning: ${w.message}`);
  }
  for (const z of plan.refused) lines.push(`zone ${z.zone}: REFUSED — ${refusalMessage(z)}${z.problem.fix ? ` ${z.problem.fix}` : ''}`);
  for (const u of plan.unmanaged) {
    lines.push(`not managed here: ${u.host} — add these records at its DNS provider:`);
    for (const r of u.records) lines.push(`  ${formatRecord(r)}`);
  }
  for (const p of plan.problems) lines.push(`problem: ${p.message}`);
  if (lines.length === 0) lines.push('Nothing to do: no MX host of this server needs TLSA records.');
  return lines.join('\n');
}

function zoneJson(z: RunPlan['zones'][number]) {
  return { zone: z.zone, provider: z.provider, changes: z.changes, waiting: z.waiting, foreign: z.foreign, deferred: z.deferred, overBudget: z.overBudget, blocked: z.blocked ?? null, warnings: z.warnings };
}

function refusedJson(z: RunPlan['refused'][number]) {
  return { zone: z.zone, code: z.problem.code, reason: z.problem.message, fix: z.problem.fix ?? null, domains: z.domains, mxHere: z.mxHere, message: refusalMessage(z) };
}

export function planJson(plan: RunPlan) {
  return { zones: plan.zones.map(zoneJson), refused: plan.refused.map(refusedJson), unmanaged: plan.unmanaged, problems: plan.problems };
}

/** planJson's fields with the per-zone lists built one element at a time (for writeJsonObject). */
export function planJsonStream(plan: RunPlan): Record<string, unknown> {
  function* each<T, U>(xs: T[], f: (x: T) => U): Iterable<U> {
    for (const x of xs) yield f(x);
  }
  return { zones: each(plan.zones, zoneJson), refused: each(plan.refused, refusedJson), unmanaged: plan.unmanaged, problems: plan.problems };
}

export const planCommand: Command = {
  async run({ ctx, values }) {
    const domains = domainsOption(values);
    const plan = await makePlan(ctx!, new Providers(ctx!), { ...(domains ? { domains } : {}), force: values.force === true, showOnly: true });
    if (values.json) return { stream: (write) => writeJsonObject(planJsonStream(plan), write), exitCode: 0 };
    return { output: planText(plan), exitCode: 0 };
  },
};

export const applyCommand: Command = {
  async run({ ctx, values }) {
    const domains = domainsOption(values);
    const takeover = (values.takeover as string[] | undefined)?.map((o) => normalizeName(o, '--takeover', { allowUnderscore: true }));
    const providers = new Providers(ctx!);
    const recovered = await recoverInterrupted(ctx!, providers, 'cli');
    const planOpts = { ...(domains ? { domains } : {}), force: values.force === true, ...(takeover ? { takeover } : {}) };
    // MTA-STS policies are served (written, fetched back) before the plan that announces their ids.
    const { plan } = await serveThenPlan(ctx!, providers, await makePlan(ctx!, providers, planOpts), planOpts, 'cli');
    const count = plan.zones.reduce((n, z) => n + z.changes.length, 0);
    if (count > 0 && !values.yes) {
      if (!process.stdin.isTTY) throw new ProblemError(problem('usage', `apply would make ${count} change(s); add --yes to run without a terminal.`));
      process.stdout.write(`${planText(plan)}\n`);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Apply ${count} change(s)? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return { output: 'Nothing changed.', exitCode: 0 };
    }
    const results = await applyPlan(ctx!, providers, plan, 'cli');
    // MTA-STS turned off: the steps that wait for the record to be gone (or announced).
    const stsProblems = await afterMtaStsApply(ctx!, plan, results, 'cli');
    const failed = results.filter((r) => r.problem);
    if (values.json) return { output: json({ recovered, results, plan: planJson(plan) }), exitCode: failed.length ? 1 : 0 };
    const lines = describeSettled(recovered);
    lines.push(...results.flatMap((r) => [
      `zone ${r.zone} (${r.provider}): ${r.problem ? `FAILED, ${r.applied.length ? `${r.applied.length} change(s) applied before the failure` : 'nothing changed'}: ${r.problem.message}${r.problem.fix ? ` ${r.problem.fix}` : ''}` : `${r.applied.length} change(s) applied`}`,
      ...r.applied.map((c) => `  ${c.kind === 'create' ? '+' : '-'} ${formatManaged(c.record)}`),
    ]));
    for (const p of stsProblems) lines.push(`${p.code}: ${p.message}${p.fix ? ` ${p.fix}` : ''}`);
    if (results.length === 0 && plan.refused.length === 0) lines.push('Everything is in sync; nothing to change.');
    for (const z of plan.zones) if (z.blocked) lines.push(`blocked: ${z.blocked.message} ${z.blocked.fix ?? ''}`);
    // Refusals that hold no mail served here are not failures, but are never silent either.
    for (const z of plan.refused) if (!refusalMatters(z)) lines.push(`zone ${z.zone}: REFUSED — ${refusalMessage(z)}`);
    return { output: lines.join('\n'), exitCode: failed.length ? 1 : 0 };
  },
};

export const auditCommand: Command = {
  async run({ ctx, values }) {
    const format = (values.format as string | undefined) ?? (values.json ? 'json' : 'table');
    if (!['table', 'csv', 'json'].includes(format)) throw new ProblemError(problem('usage', `--format must be table, csv or json, not "${format}"`));
    const plan = await makePlan(ctx!, new Providers(ctx!), { kinds: true, showOnly: true });
    // Read-only: what the state database holds, if it can be read; audit never creates it.
    const checks = storedOr((): Map<string, CheckSummary> => ctx!.readState()?.latestChecks() ?? new Map(), new Map());
    const dnssec = storedOr(() => latestDnssec(ctx!), new Map());
    const marks = storedOr(() => publishedMarks(ctx!.readState()), new Map());
    const sts = storedStates(ctx!);
    const rows = auditRows(auditInput(plan), checks, dnssec, tlsrptTotals(ctx!), marks, sts);
    if (format === 'json') return { output: json(rows), exitCode: 0 };
    if (format === 'csv') return { output: auditCsv(rows), exitCode: 0 };
    return {
      output: table(
        ['DOMAIN', 'OWNER', 'MAIL', 'MX HERE', 'PROVIDER', 'TLSA', 'DNSSEC', 'CERT EXPIRES', 'VERDICT', 'MTA-STS', 'CAUSES'],
        rows.map((r) => [r.domain, r.owner, r.mail, r.mxHere.join(' '), r.provider ?? '-', r.tlsa, r.dnssecReason ? `${r.dnssec} (${r.dnssecReason})` : r.dnssec, r.certNotAfter?.slice(0, 10) ?? '-', r.verdict ?? '-', r.mtaSts, checkProblemCodes(r).join(' ') || '-']),
      ),
      exitCode: 0,
    };
  },
};
