import type { AppContext } from '../context.js';
import type { Actor } from '../state/db.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import { reportsFromMessage } from './message.js';
import { DANE_RESULT_TYPES, parseReport, type TlsrptReport } from './report.js';
import { alertOnTlsReports } from '../alerts/evaluate.js';
import { ensureSpool, spoolEntries, spoolRead, spoolRemoveAll, type SpoolEntry } from './spool.js';
import { TlsrptStore } from './store.js';
import { perStateDb } from '../state/per-state.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const ALERT_WINDOW_MS = 7 * DAY_MS;

/** The TLS-RPT tables live in the state database (created on first use). */
export const tlsrptStore = perStateDb((db) => new TlsrptStore(db));

/**
 * Session totals of the last 7 days per domain, for audit and the domain list. Read-only: audit
 * must not create the database or its tables; unreadable state means no totals, not a failure.
 */
export function tlsrptTotals(ctx: AppContext, now = ctx.now()): Map<string, { successful: number; failed: number }> {
  try {
    const db = ctx.readState()?.db;
    if (!db || !TlsrptStore.present(db)) return new Map();
    return new Map(new TlsrptStore(db, { readOnly: true }).totalsByDomain(now - ALERT_WINDOW_MS).map((t) => [t.domain, { successful: t.successful, failed: t.failed }]));
  } catch {
    return new Map();
  }
}

export interface Refused {
  file: string;
  code: string;
  reason: string;
}

export interface ImportOutcome {
  imported: { reportId: string; organization: string; domains: string[] }[];
  duplicates: string[];
  refused: Refused[];
  pruned: number;
}

/** Spool files read and parsed before their reports are written in one transaction. */
const BATCH = 200;

/** What one spool file comes to, before anything is written. */
type Work = { file: string; remove: 'only' } | { file: string; refused: { code: string; reason: string } } | { file: string; reports: (TlsrptReport | { error: string; filename: string | null })[] };

/**
 * Everything ingest spooled: each message parsed, each report validated and stored (a known
 * report-id is a resend and is skipped), each refusal logged with its reason; then the file is
 * gone. Reports older than the retention are pruned. Run as root by the timer and `tlsrpt import`.
 *
 * Files are taken in batches: read and parsed first, then every report and activity line of the
 * batch written in one transaction (one commit instead of two per report: the commits were most
 * of the time at 10,000 reports), and only then are the files removed. A crash between commit and
 * removal leaves files whose reports are already stored: the next run skips them as resends.
 */
export async function importSpool(ctx: AppContext, actor: Actor, now = ctx.now()): Promise<ImportOutcome> {
  const dir = ensureSpool(ctx.root);
  const store = tlsrptStore(ctx);
  const out: ImportOutcome = { imported: [], duplicates: [], refused: [], pruned: 0 };
  const entries = spoolEntries(dir, now);
  for (let i = 0; i < entries.length; i += BATCH) {
    const work: Work[] = [];
    for (const entry of entries.slice(i, i + BATCH)) work.push(await readEntry(dir, entry));
    ctx.state().db.transaction(() => {
      for (const w of work) record(ctx, store, w, actor, now, out);
    }).immediate();
    await spoolRemoveAll(dir, work.map((w) => w.file));
  }
  out.pruned = store.prune(now - ctx.config.tlsrpt.retentionDays * DAY_MS);
  // Only reports of the last week count: a sender that stopped reporting does not hold an incident open.
  alertOnTlsReports(ctx, store.latestFailuresOfType(DANE_RESULT_TYPES, now - ALERT_WINDOW_MS), now);
  return out;
}

async function readEntry(dir: string, entry: SpoolEntry): Promise<Work> {
  if (entry.kind === 'stale-temp') return { file: entry.name, remove: 'only' };
  const bytes = spoolRead(dir, entry.name, entry.kind === 'refused' ? 64 * 1024 : MAX_MESSAGE_BYTES);
  if (typeof bytes === 'string') return { file: entry.name, refused: { code: entry.kind === 'refused' ? 'tlsrpt-malformed' : 'tlsrpt-too-large', reason: `the spooled file ${bytes}` } };
  if (entry.kind === 'refused') return { file: entry.name, refused: noteOf(bytes) };
  const parsed = await reportsFromMessage(bytes);
  if ('code' in parsed) return { file: entry.name, refused: parsed };
  return { file: entry.name, reports: parsed.reports.map((part) => {
    const report = parseReport(part.json);
    return 'error' in report ? { error: report.error, filename: part.filename } : report;
  }) };
}

function record(ctx: AppContext, store: TlsrptStore, w: Work, actor: Actor, now: number, out: ImportOutcome): void {
  const refuse = (code: string, reason: string) => {
    out.refused.push({ file: w.file, code, reason });
    ctx.logger.warn({ file: w.file, code, reason }, 'TLS-RPT message refused');
    ctx.state().logActivity({ actor, kind: 'tlsrpt', zone: null, subject: w.file, detail: `refused (${code}): ${reason}`, ok: false });
  };
  if ('refused' in w) return refuse(w.refused.code, w.refused.reason);
  if (!('reports' in w)) return;
  for (const report of w.reports) {
    if ('error' in report) {
      refuse('tlsrpt-malformed', `${report.filename ?? 'the report'}: ${report.error}`);
      continue;
    }
    const domains = [...new Set(report.policies.map((p) => p.policyDomain))];
    if (!store.add(report, now)) {
      out.duplicates.push(report.reportId);
      ctx.logger.info({ reportId: report.reportId }, 'TLS-RPT report already stored');
      ctx.state().logActivity({ actor, kind: 'tlsrpt', zone: domains[0] ?? null, subject: report.reportId, detail: `duplicate report from ${report.organization} ignored (report-id already stored)`, ok: true });
      continue;
    }
    out.imported.push({ reportId: report.reportId, organization: report.organization, domains });
    const failed = report.policies.reduce((n, p) => n + p.failed, 0);
    const ok = report.policies.reduce((n, p) => n + p.successful, 0);
    ctx.state().logActivity({ actor, kind: 'tlsrpt', zone: domains[0] ?? null, subject: report.reportId, detail: `report from ${report.organization} for ${domains.join(', ')}: ${ok} successful, ${failed} failed session(s)`, ok: failed === 0 });
  }
}

/** The note ingest leaves for a message it did not keep (written by an unprivileged user: checked). */
function noteOf(bytes: Buffer): { code: string; reason: string } {
  try {
    const n = JSON.parse(bytes.toString('utf8')) as { code?: unknown; reason?: unknown };
    if (n.code === 'tlsrpt-too-large' && typeof n.reason === 'string') return { code: n.code, reason: n.reason.slice(0, 200) };
  } catch {
    // falls through
  }
  return { code: 'tlsrpt-malformed', reason: 'an unreadable refusal note in the spool' };
}
