import { retryWhileBusy } from '../state/busy.js';
import type { AppContext } from '../context.js';
import { domainOwners } from '../cpanel/accounts.js';
import { mainDomainOf } from '../cpanel/users-file.js';
import { checkName } from '../dns/names.js';
import { isManagedTxt, isMtaSts, isTlsrpt } from '../dns/records.js';
import { Providers } from '../provider-instances.js';
import { incomingRecords } from '../plan/desired.js';
import { applyPlan, makePlan, scanFor, type RunPlan } from '../plan/run.js';
import { recoverInterrupted } from '../plan/recover.js';
import { ProblemError, toProblem } from '../problem.js';
import { certificateCoversHost, findIssuer, parseBundle, signedBy, type Certificate } from '../tlsa/certificate.js';

/** cPanel's hook input: `{"context":{category,event,stage},"data":{…},"hook":{…}}`. */
export interface HookInput {
  context?: { category?: string; event?: string; stage?: string };
  data?: Record<string, unknown>;
}

export interface HookOutcome {
  /** Whether the work succeeded: the activity log's ok/failed. cPanel still gets `1` (hookAnswer). */
  ok: boolean;
  message: string;
}

/**
 * The line cPanel reads: always `1 <message>`. cPanel's Cpanel/Hooks.pm `sub hook` fails (and
 * rolls back) the action when the registration OR the caller's context says `blocking` and the
 * hook answers `0`; Whostmgr/API/1/SSL.pm `install_service_ssl_certificate` calls with
 * `blocking => 1` and then skips restarting Exim. A DNS failure must never cost an install, so a
 * failure is reported after the `1` (and in the activity log and alerts), never as `0`.
 */
export function hookAnswer(outcome: HookOutcome): string {
  const flat = outcome.message.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return `1 ${(flat.length > 2000 ? `${flat.slice(0, 2000)}…` : flat) || 'no message'}`;
}

/**
 * How long a hook waits for another run's zone lock before leaving the work to the timer. Other
 * hooks for the same zone hold it for well under a second each; AutoSSL runs in the background,
 * so waiting is better than deferring records to the next timer run.
 */
const HOOK_LOCK_WAIT_MS = 30_000;

/**
 * One hook invocation. Never throws and never blocks an install: a failure is an outcome with
 * ok: false and its reason (answered `1 <reason>`), and the periodic reconcile finishes the work.
 */
export async function runHook(ctx: AppContext, raw: string): Promise<HookOutcome> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'hook input is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, message: 'hook input is not a JSON object' };
  const input = parsed as HookInput;
  const event = `${input.context?.category ?? '?'} ${input.context?.event ?? '?'} ${input.context?.stage ?? '?'}`;
  const customer = isCustomerEvent(raw);
  try {
    // Hooks fired side by side share the state database, which can still answer SQLITE_BUSY under
    // heavy load; the work is idempotent (it re-plans from what is published), so try again.
    const outcome = await retryWhileBusy(async () => {
      await recoverInterrupted(ctx, new Providers(ctx), 'hook');
      return dispatch(ctx, input, event);
    });
    ctx.state().logActivity({ actor: 'hook', kind: 'hook', zone: null, subject: event, detail: outcome.message, ok: outcome.ok });
    return outcome;
  } catch (err) {
    const p = toProblem(err, 'hook-failed');
    try {
      ctx.state().logActivity({ actor: 'hook', kind: 'hook', zone: null, subject: event, detail: p.message, ok: false });
    } catch {
      /* the state database itself may be the problem; the answer to cPanel still goes out */
    }
    // A customer's UAPI result shows this text: no server detail in it.
    if (customer) return { ok: false, message: CUSTOMER_RETRY };
    return { ok: false, message: `${p.message} (the periodic reconcile will retry)` };
  }
}

/**
 * What a customer reads in their UAPI result when their domains' records could not be updated:
 * cPanel's Cpanel/EventHandler.pm `_uapi_std_hook` hands every hook message to the customer
 * (`raw_message`), so it names nothing of the server (paths, zones, other accounts).
 */
const CUSTOMER_RETRY = 'TLSA records could not be updated right now; the server retries within minutes';

/**
 * An event without its private key: cPanel hands the new key to the hooks (`key_pem` in
 * AutoSSL::installssl, `key` in SSL::installssl and the service-certificate event, `args.key` in
 * UAPI SSL::install_ssl; test/fixtures/cpanel/hooks); TLSA Manager never needs it, so the hook
 * client drops it before the event leaves its process and the service drops it again.
 */
export function withoutKeyMaterial(input: unknown): unknown {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
  const event = input as { data?: unknown };
  if (!event.data || typeof event.data !== 'object' || Array.isArray(event.data)) return input;
  const { key_pem: _kp, key: _k, ...data } = event.data as Record<string, unknown>;
  const args = data.args;
  if (args && typeof args === 'object' && !Array.isArray(args)) {
    const { key: _ak, ...rest } = args as Record<string, unknown>;
    data.args = rest;
  }
  return { ...event, data };
}

/** Within `budgetMs` an outcome; past it a deferral (the work goes on; the periodic reconcile finishes what a stop leaves). */
export async function runHookWithin(ctx: AppContext, raw: string, budgetMs: number): Promise<HookOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<HookOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: true, message: `deferred: still working after ${budgetMs / 1000} s; the periodic reconcile finishes the work` }), budgetMs);
  });
  try {
    return await Promise.race([runHook(ctx, raw), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The answer when the hook cannot run at all (unreadable config, a broken state database): the
 * reason for root's events; for a customer's (Cpanel category) event only that a retry follows.
 */
export function cannotRun(raw: string, err: unknown): HookOutcome {
  if (isCustomerEvent(raw)) return { ok: false, message: CUSTOMER_RETRY };
  return { ok: false, message: `TLSA Manager cannot run this hook: ${(err as Error)?.message ?? String(err)}` };
}

function isCustomerEvent(raw: string): boolean {
  try {
    return (JSON.parse(raw) as HookInput | null)?.context?.category === 'Cpanel';
  } catch {
    return false;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

async function dispatch(ctx: AppContext, input: HookInput, event: string): Promise<HookOutcome> {
  const data = input.data ?? {};
  const args = (data.args && typeof data.args === 'object' ? data.args : {}) as Record<string, unknown>;
  switch (`${input.context?.category}/${input.context?.event}/${input.context?.stage}`) {
    case 'Whostmgr/AutoSSL::installssl/pre':
      return prePublish(ctx, { certPem: str(data.certificate_pem), cabPem: str(data.cab_pem), vhost: str(data.domain_set_name) ?? str(data.web_vhost_name), user: str(data.username) });
    case 'Whostmgr/SSL::installssl/pre':
      return prePublish(ctx, { certPem: str(data.crt), cabPem: str(data.cab), vhost: str(data.domain) });
    case 'Whostmgr/AutoSSL::installssl/post':
      return reconcileNames(ctx, [str(data.domain_set_name), str(data.web_vhost_name), ...namesOf(str(data.certificate_pem))]);
    case 'Whostmgr/SSL::installssl/post':
      return reconcileNames(ctx, [str(data.domain), ...namesOf(str(data.crt))]);
    case 'Whostmgr/SSL::delssl/post':
      return reconcileNames(ctx, [str(data.host)]);
    // A customer fires these (escalated to root): only that customer's own domains are touched.
    case 'Cpanel/UAPI::SSL::install_ssl/post':
      return reconcileNames(ctx, [str(args.domain), ...namesOf(str(args.cert))], str(data.user) ?? null);
    case 'Cpanel/UAPI::SSL::delete_ssl/post': {
      // Without a domain, cPanel deletes the account's main domain's SSL host (Cpanel/API/SSL.pm delete_ssl).
      const user = str(data.user);
      return reconcileNames(ctx, [str(args.domain) ?? (user ? mainDomainOf(ctx.root, user) : undefined)], user ?? null);
    }
    case 'Whostmgr/SSL::install_service_ssl_certificate/post':
      if (str(data.service) !== 'exim') return { ok: true, message: `service ${str(data.service) ?? '?'} is not Exim; nothing to do` };
      // The service certificate serves every MX host without a certificate of its own: full run.
      return summarize(await applyWith(ctx, {}));
    default:
      return { ok: true, message: `${event}: not an event TLSA Manager handles` };
  }
}

function namesOf(pem: string | undefined): string[] {
  if (!pem) return [];
  try {
    return parseBundle(pem, 'hook certificate').certificates[0]?.dnsNames ?? [];
  } catch {
    return [];
  }
}

/**
 * The customer domains an event touches: each name itself and its parent (mail.example.com →
 * example.com), as far as /etc/userdomains knows them. Keeps hooks incremental on big servers.
 */
export function affectedDomains(ctx: AppContext, names: (string | undefined)[], user?: string | null): string[] {
  if (user === null) return [];
  const owners = domainOwners(ctx.root);
  const known = { has: (n: string) => owners.has(n) && (user === undefined || owners.get(n) === user) };
  const out = new Set<string>();
  for (const raw of names) {
    if (!raw) continue;
    const c = checkName(raw.replace(/^\*\./, ''), { allowWildcard: true });
    if (!c.ok) continue;
    const candidates = [c.name, c.name.slice(c.name.indexOf('.') + 1)];
    for (const n of candidates) if (known.has(n)) out.add(n);
  }
  return [...out];
}

async function applyWith(ctx: AppContext, opts: Parameters<typeof makePlan>[2]): Promise<{ plan: RunPlan; results: Awaited<ReturnType<typeof applyPlan>> }> {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, opts);
  const results = await applyPlan(ctx, providers, plan, 'hook', { lockWaitMs: HOOK_LOCK_WAIT_MS });
  return { plan, results };
}

/**
 * The same outcome told to a customer (UAPI events): only the customer's own domains (the event
 * was narrowed to them), counts, and that a retry follows; the reasons stay in the activity log.
 */
function summarizeForCustomer(run: Awaited<ReturnType<typeof applyWith>>, domains: string[]): HookOutcome {
  const full = summarize(run);
  const changes = run.results.flatMap((r) => r.applied).filter((c) => !isManagedTxt(c.record)).length;
  if (!full.ok) return { ok: false, message: `${domains.join(', ')}: ${CUSTOMER_RETRY}` };
  if (run.results.some((r) => r.problem?.code === 'zone-busy')) return { ok: true, message: `${domains.join(', ')}: TLSA records are being updated by another run; finished within minutes` };
  return { ok: true, message: `reconciled ${domains.join(', ')}: ${changes} TLSA change(s)` };
}

function summarize({ results }: Awaited<ReturnType<typeof applyWith>>, what = 'reconciled'): HookOutcome {
  const changes = results.flatMap((r) => r.applied);
  const policies = changes.filter((c) => isTlsrpt(c.record)).length;
  const sts = changes.filter((c) => isMtaSts(c.record)).length;
  const applied = changes.length - policies - sts;
  const busy = results.filter((r) => r.problem?.code === 'zone-busy');
  const failed = results.filter((r) => r.problem && r.problem.code !== 'zone-busy');
  if (failed.length > 0) return { ok: false, message: `${what}: ${failed.map((f) => f.problem!.message).join('; ')} (the periodic reconcile will retry)` };
  if (busy.length > 0) return { ok: true, message: `deferred: ${busy.map((b) => b.zone).join(', ')} busy; the periodic reconcile finishes the work` };
  return { ok: true, message: `${what}: ${applied} TLSA change(s)${policies > 0 ? `, ${policies} TLS-RPT policy change(s)` : ''}${sts > 0 ? `, ${sts} MTA-STS record change(s)` : ''}` };
}

/** `user`: only that cPanel user's domains (null: the event names no user, so none); undefined: any. */
async function reconcileNames(ctx: AppContext, names: (string | undefined)[], user?: string | null): Promise<HookOutcome> {
  const domains = affectedDomains(ctx, names, user);
  if (domains.length === 0) return { ok: true, message: user === undefined ? 'no customer domain of this server is affected' : 'no domain of the calling user is affected' };
  const run = await applyWith(ctx, { domains });
  return user === undefined ? summarize(run, `reconciled ${domains.join(', ')}`) : summarizeForCustomer(run, domains);
}

interface Incoming {
  certPem: string | undefined;
  cabPem: string | undefined;
  /** The vhost the certificate is being installed on (its servername). */
  vhost: string | undefined;
  /** The cPanel user the event names, when it names one (AutoSSL). */
  user?: string | undefined;
}

/**
 * Pre stage of a renewal: publish records for the incoming certificate next to the current
 * ones, before it goes live. Deletes nothing. What a hook event carries is untrusted (a reseller
 * or, through cPanel's own APIs, a customer chooses the certificate), so records go only where
 * this certificate will really be presented: cPanel installs it on one vhost and copies it to
 * `domain_tls/<name>` for the names of that vhost it covers, and Exim presents it for exactly
 * those SNI names (cpanel/exim-sni.ts). So: MX hosts among the vhost's own names, the vhost's
 * domain owned by the event's user, covered by the certificate; an issuer is pinned only when
 * its key verifies the certificate's signature.
 */
async function prePublish(ctx: AppContext, inc: Incoming): Promise<HookOutcome> {
  if (!inc.certPem) return { ok: false, message: 'the hook data has no certificate; nothing published ahead of the install' };
  const name = inc.vhost ? checkName(inc.vhost) : null;
  if (!name?.ok) return { ok: false, message: 'the hook data names no valid domain; nothing published ahead of the install' };
  const vhost = name.name;
  const owner = domainOwners(ctx.root).get(vhost);
  if (!owner) return { ok: true, message: `${vhost} is not a customer domain of this server; nothing published ahead of the install` };
  if (inc.user !== undefined && inc.user !== owner) return { ok: true, message: `the event's user does not own ${vhost}; nothing published ahead of the install` };
  let chain: Certificate[];
  try {
    // The key (key_pem) is never read: only the certificate and its CA bundle.
    chain = parseBundle(`${inc.certPem}\n${inc.cabPem ?? ''}`, 'incoming certificate').certificates;
  } catch (err) {
    if (err instanceof ProblemError) return { ok: false, message: err.problem.message };
    throw err;
  }
  const leaf = chain[0]!;
  const issuer = findIssuer(leaf, chain);
  const trusted = issuer && signedBy(leaf, issuer) ? [leaf, issuer] : [leaf];
  const names = vhostNames(vhost).filter((h) => certificateCoversHost(leaf, h));
  if (names.length === 0) return { ok: true, message: `the incoming certificate does not cover ${vhost}'s mail names; nothing published ahead of the install` };
  const scan = await scanFor(ctx, { domains: [vhost] });
  const hosts = scan.endpoints.map((e) => e.host).filter((h) => names.includes(h));
  const extraDesired = incomingRecords(trusted, ctx.config.policy, hosts);
  if (extraDesired.length === 0) return { ok: true, message: 'the incoming certificate serves no MX host of this server' };
  const result = await applyWith(ctx, { domains: [vhost], createOnly: true, extraDesired, scan });
  const unpinned = issuer && trusted.length === 1 ? ' (its CA bundle did not sign it: no issuer pinned)' : '';
  return summarize(result, `pre-published for ${hosts.join(', ')}${unpinned}`);
}

/** The SNI names cPanel gives a vhost that can be MX hosts: the domain and its mail./www. aliases. */
function vhostNames(vhost: string): string[] {
  return [vhost, `mail.${vhost}`, `www.${vhost}`];
}
