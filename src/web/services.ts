import { providerModule } from '../providers/registry.js';
import type { VerifyResult } from '../providers/types.js';
import { alertOnChecks } from '../alerts/evaluate.js';
import type { AppContext } from '../context.js';
import { dueAfterPublish } from '../checks/scheduled.js';
import { enableSigning, type SignerChange } from '../dnssec/enable.js';
import { recheckDnssec } from '../dnssec/watch.js';
import { checkDomains } from '../dane/check.js';
import { authenticates, type DomainCheck } from '../dane/verdict.js';
import { builtinCloudflareAccess, Providers } from '../provider-instances.js';
import type { ApplyResult, PublishedRecord } from '../providers/contract.js';
import { applyPlan, makePlan, type RunPlan } from '../plan/run.js';
import { isProblem, problem, ProblemError, toProblem, type Problem } from '../problem.js';
import type { Job, JobRegistry } from './jobs.js';
import { redactConfig, replaceConfig, type Config, type CpanelImportance } from '../state/config.js';
import { alertStore, sendTest, type ChannelId } from '../alerts/notify.js';
import { importanceName, setCpanelImportance } from '../alerts/channels/cpanel.js';
import { WhmApi } from '../cpanel/whmapi.js';
import type { Snapshot } from './snapshot.js';
import type { PlanView } from '../plan/view.js';
import { buildPlanView, pagePlan } from './snapshot-build.js';
import { afterMtaStsApply, serveThenPlan } from '../mtasts/run.js';
import { setModeByAdmin } from '../mtasts/admin-mode.js';
import { checkedDomains, checkMtaStsNow, type MtaStsCheckNow } from '../mtasts/scheduled.js';
import type { MtaStsMode } from '../mtasts/store.js';

/** What the Cloudflare "Test" button reports (a subset of CloudflareProvider's TokenCheck). */
export interface TokenTest {
  ok: boolean;
  summary: string;
  problems: Problem[];
}

/** What a web Publish did: the plan applied, each zone's result, and what its MTA-STS steps could not do. */
export interface PublishOutcome {
  plan: RunPlan;
  results: ApplyResult[];
  /** A policy not served (so its id waits) or a turn-off step not done, one per domain, with its fix (serve.ts, run.ts afterMtaStsApply). */
  mtaSts?: Problem[];
}

/**
 * The backends the web app drives. Route handlers call these and nothing else, so tests and the
 * benchmark can swap in fakes (no DNS, no network).
 */
export interface WebServices {
  plan(domains?: string[]): Promise<RunPlan>;
  /** Every domain's plan as the snapshot keeps it (optional: from plan() when a fake leaves it out). */
  planView?(): Promise<PlanView>;
  /** `takeover`: owners whose records we did not create that this publish may manage (`apply --takeover`). */
  publish(domains: string[] | undefined, actor: string, onZone?: (done: number, total: number) => void, takeover?: string[]): Promise<PublishOutcome>;
  /** The re-checks a publish asked for that are due by now (checks.afterPublishDelaySeconds 0: all of them). */
  dueAfterPublish(domains: string[]): string[];
  check(domains: string[], onProgress: (done: number, total: number) => void): Promise<DomainCheck[]>;
  /**
   * The MTA-STS side of a check (src/mtasts/scheduled.ts checkMtaStsNow): the given domains the
   * timer checks, checked and recorded now, judged as the timer judges. `off`: checks.mtaStsOnDemand
   * is false, nothing was checked.
   */
  checkMtaSts(domains: string[], onProgress: (done: number, total: number) => void): Promise<MtaStsCheckNow | { off: true; covered: string[] }>;
  /**
   * Check results → alerts, by the same rule as the scheduled checks (src/alerts/evaluate.ts): a
   * broken domain found by "Check all" is on the alerts panel too. Delivery stays with the
   * outbox (the daemon's watchdog sends what is queued).
   */
  alertOnChecks(results: DomainCheck[]): void;
  published(zone: string, provider: string, owners: string[]): Promise<PublishedRecord[]>;
  testCloudflareToken(token: string, zone?: string): Promise<TokenTest>;
  /** A named provider instance's Test button (its module's verify); null when it has none. */
  testProvider(name: string, zone?: string): Promise<VerifyResult | null>;
  /** Look at these zones' DNSSEC chains now and store what was seen (the domain page's DNSSEC panel). */
  dnssecRecheck(zones: string[], actor: string): Promise<void>;
  /** Start DNSSEC signing for these zones (issue 12): guarded exactly like `dnssec enable`. */
  dnssecEnable(zones: string[], actor: string): Promise<SignerChange[]>;
  /**
   * Save a new configuration (file first, then the running process) and log what changed (never
   * a secret: `changed` names fields only). A changed Contact Manager importance goes to WHM at
   * once; its refusal is returned (the config stays saved).
   */
  saveSettings(next: Config, changed: string[], actor: string): Promise<Problem | null>;
  /** Send a test alert through one channel, logged. */
  sendTestAlert(channel: ChannelId, actor: string): Promise<{ ok: boolean; error?: string }>;
  /** Root moves a domain's MTA-STS mode (the domain page's switch): stored and logged; the next publish serves it. */
  setMtaStsMode(domain: string, mode: MtaStsMode, actor: string): void;
  /** An admin has seen an open alert (issue 24): `unknown` when there is no such alert, false when it is not open. */
  acknowledgeAlert(id: number, actor: string): boolean | 'unknown';
}

export function defaultServices(ctx: AppContext): WebServices {
  return {
    plan: (domains) => pagePlan(ctx, domains),
    planView: () => buildPlanView(ctx),
    async publish(domains, actor, onZone, takeover) {
      const providers = new Providers(ctx);
      const opts = { ...(domains ? { domains } : {}), ...(takeover?.length ? { takeover } : {}) };
      // As apply does: MTA-STS policies are served first, so the records announce only served ids.
      const { plan, served } = await serveThenPlan(ctx, providers, await makePlan(ctx, providers, opts), opts, actor);
      const results = await applyPlan(ctx, providers, plan, actor, onZone ? { onZone } : {});
      // The steps of turning MTA-STS off that wait for this apply (retire.ts), one domain failing alone.
      const after = await afterMtaStsApply(ctx, plan, results, actor);
      plan.problems.push(...after);
      return { plan, results, mtaSts: [...served.flatMap((s) => (s.problem ? [s.problem] : [])), ...after] };
    },
    dueAfterPublish: (domains) => dueAfterPublish(ctx, domains),
    check: (domains, onProgress) => checkDomains(ctx, domains, { onProgress }),
    async checkMtaSts(domains, onProgress) {
      if (!ctx.config.checks.mtaStsOnDemand) {
        const here = new Set(checkedDomains(ctx));
        return { off: true, covered: domains.filter((d) => here.has(d)) };
      }
      return checkMtaStsNow(ctx, domains, { onProgress });
    },
    alertOnChecks: (results) => void alertOnChecks(ctx, results),
    async published(zone, provider, owners) {
      const p = await new Providers(ctx).get(provider);
      if (isProblem(p)) throw new ProblemError(p);
      return p.populate(zone, owners);
    },
    testCloudflareToken: (token, zone) => testToken(ctx, token, zone),
    async testProvider(name, zone) {
      const inst = Object.hasOwn(ctx.config.providers, name) ? ctx.config.providers[name] : undefined;
      if (!inst || !providerModule(inst.kind).capabilities.verify) return null;
      const p = await new Providers(ctx).get(name);
      if (isProblem(p)) return { ok: false, summary: p.message, problems: [p] };
      return p.verify ? p.verify(zone) : null;
    },
    dnssecEnable: (zones, actor) => enableSigning(ctx, zones, { actor }),
    async saveSettings(next, changed, actor) {
      const before = ctx.config.alerts.cpanelImportance;
      replaceConfig(ctx, next);
      ctx.state().logActivity({ actor, kind: 'settings', zone: null, subject: 'settings', detail: changed.length ? `Changed: ${changed.join(', ')}.` : 'Saved without changes.', ok: true });
      ctx.logger.info({ config: redactConfig(next) }, 'settings saved');
      return applyImportance(ctx, before, next.alerts.cpanelImportance, actor);
    },
    async sendTestAlert(channel, actor) {
      const result = await sendTest(ctx, channel, actor);
      ctx.state().logActivity({ actor, kind: 'alert', zone: null, subject: channel, detail: result.ok ? 'test alert sent' : `test alert failed: ${result.error}`, ok: result.ok });
      return result;
    },
    setMtaStsMode: (domain, mode, actor) => void setModeByAdmin(ctx, domain, mode, actor),
    acknowledgeAlert(id, actor) {
      const store = alertStore(ctx);
      const alert = store.get(id);
      if (!alert) return 'unknown';
      if (!store.acknowledge(id, actor, ctx.now())) return false;
      ctx.state().logActivity({ actor, kind: 'alert', zone: null, subject: alert.subject, detail: `acknowledged: ${alert.title} (no reminders until it resolves or gets worse)`, ok: true });
      return true;
    },
    async dnssecRecheck(zones, actor) {
      await recheckDnssec(ctx, { zones, actor, timeoutMs: 5_000 });
    },
  };
}

/** What a job needs: the backends, the page data it refreshes, and the queue it runs in. */
export interface JobDeps {
  services: WebServices;
  snapshot: Snapshot;
  jobs: JobRegistry;
}

/** "Publish alpha.example", "Check 3 domains", "Publish all domains". */
function jobLabel(verb: string, domains: string[] | undefined): string {
  return `${verb} ${domains ? (domains.length === 1 ? domains[0] : `${domains.length} domains`) : 'all domains'}`;
}

/** Up to this many chosen domains, a check also re-reads their zones' DNSSEC chains. */
const DNSSEC_WITH_CHECK_MAX = 50;

/** Check the given domains (all the server's domains with TLSA records of ours when none are given). */
export function startCheckJob(deps: JobDeps, domains: string[] | undefined, actor: string): Job {
  return deps.jobs.start('check', jobLabel('Check', domains), actor, domains ?? [], async (progress) => {
    const d = await deps.snapshot.get();
    const list = domains ?? d.rows.filter((r) => r.tlsa !== 'not-ours').map((r) => r.domain);
    progress(0, list.length);
    const results = await deps.services.check(list, progress);
    if (results.length > 0) deps.services.alertOnChecks(results);
    // "Check now" on chosen domains looks at their zones' DNSSEC chains too, so the DNSSEC panel is
    // as fresh as the validation beside it. A failed look keeps the last one (the panel says when).
    if (domains && domains.length <= DNSSEC_WITH_CHECK_MAX) {
      const zones = [...new Set(domains.map((n) => d.byDomain.get(n)?.zone ?? n))];
      await deps.services.dnssecRecheck(zones, actor).catch(() => undefined);
    }
    // The MTA-STS side after the DANE side: its failure is reported, never stops the DANE result.
    const sts = await checkMtaStsOf(deps, list, progress);
    deps.snapshot.refreshChecks();
    const ok = results.filter((r) => authenticates(r.verdict)).length;
    // "Check all" leaves out domains whose mail another server handles: say which and why.
    const skipped = domains ? [] : d.rows.filter((r) => r.tlsa === 'not-ours').map((r) => r.domain);
    const skippedText = skipped.length > 0 ? ` Not checked: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ` and ${skipped.length - 5} more` : ''} (mail handled by another server, nothing of ours to validate).` : '';
    return { summary: `${results.length} domain(s) checked: ${ok} valid, ${results.length - ok} not.${skippedText}${sts.summary}`, problems: sts.problems };
  });
}

/** The MTA-STS check of a check job: a sentence for its summary and the domains that failed, as problems. */
async function checkMtaStsOf(deps: JobDeps, list: string[], progress: (done: number, total: number, unit?: string) => void): Promise<{ summary: string; problems: Problem[] }> {
  let r: Awaited<ReturnType<WebServices['checkMtaSts']>>;
  try {
    r = await deps.services.checkMtaSts(list, (done, total) => progress(done, total, 'MTA-STS policies checked'));
  } catch (err) {
    const p = toProblem(err, 'mta-sts-check-failed');
    return { summary: ' MTA-STS was not checked (see below).', problems: [{ ...p, code: 'mta-sts-check-failed' }] };
  }
  if (r.covered.length === 0) return { summary: '', problems: [] };
  if ('off' in r) return { summary: ` MTA-STS of ${r.covered.length} domain(s) not checked: on-demand MTA-STS checks are off on this server (checks.mtaStsOnDemand), so the MTA-STS panel shows the latest stored check.`, problems: [] };
  const clean = r.checked.filter((c) => c.problems.length === 0).length;
  const broken = r.checked.filter((c) => c.state === 'broken').length;
  return {
    summary: ` MTA-STS: ${r.checked.length} domain(s) checked: ${clean} clean, ${r.checked.length - clean} with problems${broken ? ` (${broken} broken)` : ''}${r.failed.length ? `; ${r.failed.length} could not be checked` : ''}.`,
    problems: r.failed.map((f) => problem('mta-sts-check-failed', `The MTA-STS check of ${f.domain} failed: ${f.reason}`, { subject: f.domain, fix: 'Check again later; the timer checks it at its next due time.' })),
  };
}

/**
 * Plan and apply for the given domains (all when none are given), zone by zone, then rebuild the
 * page data. The domains whose records changed are named; their re-check (checks.afterPublish)
 * runs here when it is already due (a delay of 0), so the pages show the result after the publish
 * without anyone clicking, and otherwise the pages say when it runs.
 */
export function startPublishJob(deps: JobDeps, domains: string[] | undefined, actor: string, takeover?: string[]): Job {
  const label = takeover?.length ? `Take over ${takeover.length === 1 ? `the records at ${takeover[0]}` : `the records at ${takeover.length} owners`}` : jobLabel('Publish', domains);
  return deps.jobs.start('publish', label, actor, domains ?? [], async (progress) => {
    const started = Date.now();
    progress(0, 0, 'zones');
    const { plan, results, mtaSts = [] } = await deps.services.publish(domains, actor, (done, total) => progress(done, total, 'zones'), takeover);
    const d = await deps.snapshot.refresh();
    const changed = d.rows.filter((r) => r.changedAt !== null && Date.parse(r.changedAt) >= started - 1000).map((r) => r.domain);
    const due = deps.services.dueAfterPublish(changed);
    let checkedNow = '';
    if (due.length > 0) {
      progress(0, due.length, 'domains checked again');
      const checks = await deps.services.check(due, (done, total) => progress(done, total, 'domains checked again'));
      if (checks.length > 0) deps.services.alertOnChecks(checks);
      deps.snapshot.refreshChecks();
      const valid = checks.filter((c) => authenticates(c.verdict)).length;
      checkedNow = ` Checked again now: ${valid} of ${checks.length} validate.`;
    }
    const applied = results.reduce((n, r) => n + r.applied.length, 0);
    const failed = results.filter((r) => r.problem);
    // A policy that could not be served keeps its id off DNS: as much a failure to publish as a failed zone.
    const problems: Problem[] = [...failed.map((r) => ({ ...r.problem!, subject: r.zone })), ...plan.zones.filter((z) => z.blocked).map((z) => z.blocked!), ...mtaSts];
    const waiting = changed.length - due.length;
    const recheck = deps.snapshot.current()?.byDomain.get(changed.find((c) => !due.includes(c)) ?? '')?.recheckAt;
    const stsText = mtaSts.length > 0 ? ` MTA-STS: ${mtaSts.length} problem(s) with the policies, listed below with their fixes (a policy not served keeps its new id out of DNS).` : '';
    const summary =
      (results.length === 0
        ? 'Everything was already in sync; nothing to change.'
        : `${applied} change(s) applied in ${results.length - failed.length} zone(s)${failed.length ? `; ${failed.length} zone(s) failed and were left unchanged` : ''}.${checkedNow}${waiting > 0 && recheck ? ` ${waiting} domain(s) are checked again at ${recheck.slice(11, 16)} UTC, when senders can see the change.` : ''}`) + stsText;
    return { summary, problems, changed };
  });
}

/** Enable DNSSEC for the zones of the given domains, one zone at a time, then refresh the page data. */
export function startDnssecEnableJob(deps: JobDeps, zones: string[], actor: string): Job {
  return deps.jobs.start('dnssec-enable', `Enable DNSSEC for ${zones.length === 1 ? zones[0] : `${zones.length} zones`}`, actor, zones, async (progress) => {
    const out: SignerChange[] = [];
    progress(0, zones.length);
    for (const z of zones) {
      out.push(...(await deps.services.dnssecEnable([z], actor)));
      progress(out.length, zones.length);
    }
    deps.snapshot.refreshChecks();
    const enabled = out.filter((r) => r.ok && !r.unchanged).length;
    const already = out.filter((r) => r.unchanged).length;
    const refused = out.filter((r) => !r.ok);
    return {
      summary: `${enabled} zone(s) now signing${already ? `, ${already} already were` : ''}${refused.length ? `; ${refused.length} refused, nothing changed there` : ''}. Give each zone's DS (domain page, DNSSEC panel) to its registrar.`,
      problems: refused.map((r) => ({ ...(r.problem ?? problem('whmapi-error', r.message)), subject: r.zone })),
    };
  });
}

export function startRescanJob(deps: JobDeps, actor: string): Job {
  return deps.jobs.start('rescan', 'Rescan the server', actor, [], async (progress) => {
    progress(0, 1);
    const d = await deps.snapshot.refresh();
    progress(1, 1);
    return { summary: `${d.rows.length} domain(s) scanned in ${d.buildMs} ms.` };
  });
}

/** Loaded lazily: the Cloudflare module (and SDK) is only needed when someone presses "Test". */
async function testToken(ctx: AppContext, apiToken: string, zone?: string): Promise<TokenTest> {
  let mod: typeof import('../providers/cloudflare/client.js');
  try {
    mod = await import('../providers/cloudflare/client.js');
  } catch (err) {
    return { ok: false, summary: 'The Cloudflare provider is not available in this build.', problems: [toProblem(err, 'cloudflare-not-built')] };
  }
  if (typeof mod.CloudflareProvider?.prototype?.verifyToken !== 'function') {
    return { ok: false, summary: 'This build cannot test Cloudflare tokens.', problems: [problem('cloudflare-not-built', 'Token testing is not available in this build.')] };
  }
  const { baseURL } = builtinCloudflareAccess(ctx.config);
  const provider = new mod.CloudflareProvider({ apiToken, ...(baseURL ? { baseURL } : {}), logger: ctx.logger, maxRetries: 0, requestTimeoutMs: 10_000 });
  try {
    const r = await provider.verifyToken(zone);
    return { ok: r.ok, summary: r.summary, problems: r.problems };
  } catch (err) {
    return { ok: false, summary: 'The token could not be tested.', problems: [toProblem(err, 'cloudflare-test-failed')] };
  }
}

/**
 * A changed importance goes to WHM at once (the same call install.sh makes), so what the page says
 * is what Contact Manager uses. The config is saved either way; a refusal is shown with the
 * command that sets it by hand. Returns the problem to show, or null.
 */
async function applyImportance(ctx: AppContext, before: CpanelImportance, now: CpanelImportance, by: string): Promise<Problem | null> {
  if (before === now || !WhmApi.available(ctx.root)) return null;
  try {
    await setCpanelImportance(ctx.root, now);
    ctx.state().logActivity({ actor: by, kind: 'settings', zone: null, subject: 'cpanel importance', detail: `cPanel notifications set to importance ${importanceName(now)} in Contact Manager.`, ok: true });
    return null;
  } catch (err) {
    const why = err instanceof ProblemError ? err.problem.message : String(err);
    ctx.state().logActivity({ actor: by, kind: 'settings', zone: null, subject: 'cpanel importance', detail: `setting importance ${importanceName(now)} failed: ${why}`, ok: false });
    return problem('cpanel-importance-failed', `The setting was saved, but WHM did not take the importance ${importanceName(now)}: ${why}`, {
      fix: `As root run: /usr/local/cpanel/bin/whmapi1 set_application_contact_importance app=TLSAManager importance=${importanceName(now)}`,
    });
  }
}
