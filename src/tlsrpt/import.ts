import type { AppContext } from '../context.js';
import type { Actor } from '../state/db.js';
import { unlinkSync } from 'node:fs';
import { LockBusyError, withLock } from '../util/lock.js';
import { join } from 'node:path';
import { IMPORT_BUDGET_MS, MAX_FILES_PER_RUN, MAX_FUTURE_MS, MAX_MESSAGE_BYTES, MAX_POLICIES_PER_REPORT, MAX_REPORTS_PER_SENDER_DAY, MAX_SAMPLES, REJECTED_KEEP_MS } from './limits.js';
import { reportsFromMessage } from './message.js';
import { verifyReportMail } from './dkim.js';
import { parseReport, type ParsedReport } from './report.js';
import { alertOnTlsReports } from '../alerts/evaluate.js';
import { claimSpooled, ensurePrivateDir, ensureSpool, IMPORT_DIR, leftoverClaims, pruneRejected, REJECTED_DIR, rejectClaimed, rejectedEntries, spoolEntries, spoolPath, spoolRead, writeNote, type RejectedEntry, type SpoolEntry } from './spool.js';
import { ALERT_WINDOW_MS, TlsrptStore, tlsrptStore, type StoredReport } from './store.js';
import { printable } from '../dns/names.js';
import { stripControl } from '../util/text.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export { ALERT_WINDOW_MS, tlsrptStore };

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

/** Report mails refused in the last 30 days with their reasons, newest first (the TLS-RPT panel). */
export function rejectedMails(ctx: AppContext, limit = 20): RejectedEntry[] {
  return rejectedEntries(ctx.root.path(REJECTED_DIR), limit);
}

export interface Refused {
  file: string;
  code: string;
  reason: string;
}

export interface ImportOutcome {
  imported: { reportId: string; organization: string; domains: string[]; authenticated: boolean }[];
  duplicates: string[];
  refused: Refused[];
  pruned: number;
  /** Reports stored with parts cut by a limit (policies, failure details, a flooded domain). */
  cut: Refused[];
  /** Spool entries left for the next run (the file or time limit of one run was reached). */
  deferred: number;
}

/** What one spool file comes to, before anything is written. */
type Work = { refused: { code: string; reason: string } } | { reports: (ParsedReport | { error: string; filename: string | null })[]; signer: string; authenticated: boolean };

/**
 * Everything ingest spooled, one file at a time (issue 21: memory and time stay bounded whatever
 * the spool holds). Each file is first moved out of the spool into a root-only directory, then
 * parsed, its reports judged and stored in one transaction, then removed; a refused file moves
 * to the rejected area with its reason. A file left in the import directory by a run that died
 * while parsing it is rejected, never parsed again. Reports older than the retention are pruned.
 * Run as root by the timer and `tlsrpt import`.
 */
export async function importSpool(ctx: AppContext, actor: Actor, now = ctx.now()): Promise<ImportOutcome> {
  // One import at a time (the timer and `tlsrpt import`): another run's claimed file must not be
  // taken for one left by a crash. A second run finds the lock held and leaves everything be.
  try {
    return await withLock(ctx.root.path(IMPORT_LOCK), () => importLocked(ctx, actor, now), { waitMs: 0 });
  } catch (err) {
    if (!(err instanceof LockBusyError)) throw err;
    ctx.logger.info({ holder: err.holder }, 'another TLS-RPT import is running; this one leaves the spool to it');
    return { imported: [], duplicates: [], refused: [], cut: [], pruned: 0, deferred: spoolEntries(spoolPath(ctx.root), now).length };
  }
}

const IMPORT_LOCK = '/var/spool/tlsa-manager/import.lock';

async function importLocked(ctx: AppContext, actor: Actor, now: number): Promise<ImportOutcome> {
  const dir = ensureSpool(ctx.root);
  const importDir = ensurePrivateDir(ctx.root, IMPORT_DIR);
  const rejectedDir = ensurePrivateDir(ctx.root, REJECTED_DIR);
  const store = tlsrptStore(ctx);
  const out: ImportOutcome = { imported: [], duplicates: [], refused: [], cut: [], pruned: 0, deferred: 0 };
  const refuse = (file: string, code: string, reason: string, zone: string | null = null) => {
    out.refused.push({ file, code, reason });
    ctx.logger.warn({ file, code, reason: printable(reason, 300) }, 'TLS-RPT message refused');
    ctx.state().logActivity({ actor, kind: 'tlsrpt', zone, subject: file, detail: `refused (${code}): ${reason}`, ok: false });
  };
  for (const name of leftoverClaims(importDir)) {
    const note = { code: 'tlsrpt-import-interrupted', reason: 'an earlier import stopped while reading this mail (a crash, a kill or a time limit); it is not read again', time: now };
    rejectClaimed(importDir, rejectedDir, name, note);
    refuse(name, note.code, note.reason);
  }
  const started = Date.now();
  const entries = spoolEntries(dir, now);
  for (let i = 0; i < entries.length; i++) {
    if (i >= MAX_FILES_PER_RUN || Date.now() - started > IMPORT_BUDGET_MS) {
      out.deferred = entries.length - i;
      ctx.logger.warn({ left: out.deferred }, 'TLS-RPT import: the rest of the spool waits for the next run');
      break;
    }
    const entry = entries[i]!;
    try {
      await importEntry(ctx, store, dir, importDir, rejectedDir, entry, actor, now, out, refuse);
    } catch (err) {
      // One entry fails alone: logged, its claimed copy rejected; the others go on.
      const reason = `could not be imported (${(err as Error).message.slice(0, 200)})`;
      rejectClaimed(importDir, rejectedDir, entry.name, { code: 'tlsrpt-import-failed', reason, time: now });
      refuse(entry.name, 'tlsrpt-import-failed', reason);
    }
  }
  out.pruned = store.prune(now - ctx.config.tlsrpt.retentionDays * DAY_MS);
  pruneRejected(rejectedDir, now - REJECTED_KEEP_MS);
  // Only reports of the last week count: a sender that stopped reporting does not hold an incident open.
  alertOnTlsReports(ctx, now);
  return out;
}

type RefuseFn = (file: string, code: string, reason: string, zone?: string | null) => void;

async function importEntry(ctx: AppContext, store: TlsrptStore, dir: string, importDir: string, rejectedDir: string, entry: SpoolEntry, actor: Actor, now: number, out: ImportOutcome, refuse: RefuseFn): Promise<void> {
  const claim = claimSpooled(dir, entry.name, importDir, rejectedDir);
  if (!claim.claimed) {
    if (claim.reason === 'is gone') return;
    writeNote(rejectedDir, entry.name, { code: 'tlsrpt-not-a-file', reason: `the spool entry ${claim.reason}`, time: now });
    return refuse(entry.name, 'tlsrpt-not-a-file', `the spool entry ${claim.reason}`);
  }
  if (entry.kind === 'stale-temp') {
    unlinkSync(join(importDir, entry.name));
    return;
  }
  const work = await readClaimed(ctx, importDir, entry, now);
  const reject = (code: string, reason: string) => {
    rejectClaimed(importDir, rejectedDir, entry.name, { code, reason, time: now });
    refuse(entry.name, code, reason);
  };
  if ('refused' in work) return reject(work.refused.code, work.refused.reason);
  const problems: { code: string; reason: string }[] = [];
  let kept = 0;
  ctx.state().db.transaction(() => {
    for (const report of work.reports) {
      if ('error' in report) {
        problems.push({ code: 'tlsrpt-malformed', reason: `${report.filename ?? 'the report'}: ${report.error}` });
        continue;
      }
      const judged = judge(store, report, ctx.config.tlsrpt.retentionDays, now);
      if ('code' in judged) {
        problems.push(judged);
        continue;
      }
      const stored: StoredReport = { ...judged, signer: work.signer, authenticated: work.authenticated };
      const domains = [...new Set(stored.policies.map((p) => p.policyDomain))];
      const org = oneLine(report.organization);
      kept++;
      if (!store.add(stored, now)) {
        out.duplicates.push(report.reportId);
        ctx.logger.info({ reportId: oneLine(report.reportId) }, 'TLS-RPT report already stored');
        ctx.state().logActivity({ actor, kind: 'tlsrpt', zone: domains[0] ?? null, subject: oneLine(report.reportId), detail: `duplicate report from ${org} ignored (this sender's report-id is already stored)`, ok: true });
        continue;
      }
      out.imported.push({ reportId: report.reportId, organization: report.organization, domains, authenticated: stored.authenticated });
      const failed = stored.policies.reduce((n, p) => n + p.failed, 0);
      const ok = stored.policies.reduce((n, p) => n + p.successful, 0);
      const cuts: Refused[] = [
        ...(judged.policiesCut > 0 ? [{ file: entry.name, code: 'tlsrpt-policies-cut', reason: `${judged.policiesCut} policies beyond ${MAX_POLICIES_PER_REPORT} only counted` }] : []),
        ...(judged.samplesCut > 0 ? [{ file: entry.name, code: 'tlsrpt-details-cut', reason: `${judged.samplesCut} failure details beyond ${MAX_SAMPLES} per result type only counted` }] : []),
        ...judged.flooded.map((d) => ({ file: entry.name, code: 'tlsrpt-flood', reason: `${d}: more than ${MAX_REPORTS_PER_SENDER_DAY} reports from this sender for the day, not stored` })),
      ];
      out.cut.push(...cuts);
      ctx.state().logActivity({ actor, kind: 'tlsrpt', zone: domains[0] ?? null, subject: oneLine(report.reportId), detail: `report from ${org} for ${domains.join(', ')}: ${ok} successful, ${failed} failed session(s)${cuts.map((c) => `; ${c.reason} (${c.code})`).join('')}`, ok: failed === 0 });
    }
  }).immediate();
  if (problems.length > 0 && kept === 0) {
    // Nothing of this mail was kept: the mail itself is rejected (with the first reason).
    for (const p of problems.slice(1)) refuse(entry.name, p.code, p.reason);
    return reject(problems[0]!.code, problems[0]!.reason);
  }
  for (const p of problems) refuse(entry.name, p.code, p.reason);
  unlinkSync(join(importDir, entry.name));
}

/**
 * The limits a parsed report must meet before it is stored: its period (not more than a day in
 * the future, not older than the retention: such a report would never be pruned, or be pruned at
 * once) and the per-sender flood limit per domain and day (policies of flooded domains dropped;
 * the report refused when nothing is left).
 */
function judge(store: TlsrptStore, r: ParsedReport, retentionDays: number, now: number): (ParsedReport & { flooded: string[] }) | { code: string; reason: string } {
  if (r.end > now + MAX_FUTURE_MS) return { code: 'tlsrpt-future', reason: `report ${oneLine(r.reportId).slice(0, 80)}: its period ends ${new Date(r.end).toISOString()}, more than a day from now` };
  if (r.end < now - retentionDays * DAY_MS) return { code: 'tlsrpt-too-old', reason: `report ${oneLine(r.reportId).slice(0, 80)}: its period ended ${new Date(r.end).toISOString()}, before the ${retentionDays} days reports are kept` };
  const flooded = [...new Set(r.policies.map((p) => p.policyDomain))].filter((d) => store.reportsOfDay(r.organization, d, r.start) >= MAX_REPORTS_PER_SENDER_DAY);
  const policies = r.policies.filter((p) => !flooded.includes(p.policyDomain));
  if (policies.length === 0) return { code: 'tlsrpt-flood', reason: `report ${oneLine(r.reportId).slice(0, 80)}: ${oneLine(r.organization).slice(0, 80)} already sent ${MAX_REPORTS_PER_SENDER_DAY} reports for ${flooded.slice(0, 3).join(', ')} for ${new Date(r.start).toISOString().slice(0, 10)}` };
  return { ...r, policies, flooded };
}

async function readClaimed(ctx: AppContext, importDir: string, entry: SpoolEntry, now: number): Promise<Work> {
  const bytes = spoolRead(importDir, entry.name, entry.kind === 'refused' ? 64 * 1024 : MAX_MESSAGE_BYTES);
  if (typeof bytes === 'string') return { refused: { code: entry.kind === 'refused' ? 'tlsrpt-malformed' : 'tlsrpt-too-large', reason: `the spooled file ${bytes}` } };
  if (entry.kind === 'refused') return { refused: noteOf(bytes) };
  const parsed = await reportsFromMessage(bytes);
  if ('code' in parsed) return { refused: parsed };
  // One report parsed at a time, its JSON text dropped as soon as it is aggregated.
  const reports: Extract<Work, { reports: unknown }>['reports'] = [];
  for (const part of parsed.reports.splice(0)) {
    const report = parseReport(part.json);
    reports.push('error' in report ? { error: report.error, filename: part.filename } : report);
  }
  // Reports are claims: the mail's DKIM signature says who sent it (only asked once it parsed).
  const dkim = reports.some((r) => !('error' in r)) ? await verifyReportMail(ctx, bytes, now) : { authenticated: false, signer: null };
  return { reports, signer: dkim.signer ?? parsed.fromDomain, authenticated: dkim.authenticated };
}

/** Sender-controlled text in our own log lines and activity: no control characters. */
function oneLine(s: string): string {
  return stripControl(s).slice(0, 1024);
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
