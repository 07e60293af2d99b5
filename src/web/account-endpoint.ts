import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.js';
import { accountIdentity } from '../access/identity.js';
import { noAccount, refusal, scopeOf } from '../access/scope.js';
import { accountStatus, type AccountStatus } from '../access/status.js';
import { CATEGORIES } from '../dane/category.js';
import { checkDomains } from '../dane/check.js';
import { isProblem, problem, toProblem, type Problem } from '../problem.js';
import { checkName } from '../dns/names.js';
import { ownerNoticeStore } from '../access/owner-notify.js';
import { storedOr } from '../state/per-state.js';

/**
 * The account owners' door (issue 28): cPanel's page asks its UAPI module, which asks our root
 * AdminBin (plugin/cpanel/bin/admin/TLSAManager/Account), which asks here over the root-only
 * socket. The account is the one cPanel's AdminBin framework names as the caller
 * (`get_caller_username`: the uid cpwrapd vouches for, Cpanel/AdminBin/Script.pm), sent as
 * X-TLSA-Account; nothing in the request body can name another. Like the hook door, the CGI shim
 * can never reach it: the shim always sends X-TLSA-Remote-User and never X-TLSA-Account-Client.
 */
export const ACCOUNT_PATH = '/account';
const MAX_BODY_BYTES = 64 << 10;

/** "Check now": at most one check per domain per minute and 20 per account per hour. */
export const CHECK_LIMITS = { perDomainMs: 60_000, perAccountPerHour: 20 } as const;

export function isAccountRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url === ACCOUNT_PATH && req.headers['x-tlsa-account-client'] === '1' && req.headers['x-tlsa-remote-user'] === undefined;
}

type Answer = { ok: true; data: unknown } | { ok: false; code: string; message: string; fix?: string };

const fail = (p: Problem): Answer => ({ ok: false, code: p.code, message: p.message, ...(p.fix ? { fix: p.fix } : {}) });

export function handleAccountRequest(ctx: AppContext, limiter: CheckLimiter, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) return void req.destroy();
    chunks.push(c);
  });
  req.on('end', () => {
    void accountAnswer(ctx, limiter, String(req.headers['x-tlsa-account'] ?? ''), Buffer.concat(chunks).toString('utf8'))
      .catch((err: unknown) => fail(toProblem(err)))
      .then((a) => {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(`${JSON.stringify(a)}\n`);
      });
  });
}

/** The door's answer for `user` (cPanel's caller) to a JSON request body; also what the demo's account pages ask (demo/account-pages.ts). */
export async function accountAnswer(ctx: AppContext, limiter: CheckLimiter, user: string, body: string): Promise<Answer> {
  if (!ctx.config.accountView.enabled) return fail(problem('account-view-off', 'The server administrator has turned this page off.', { fix: 'Ask your hosting provider about email security (DANE) for your domains.' }));
  const who = accountIdentity(ctx.root, user);
  if (typeof who === 'string' || who.kind !== 'account') return fail(noAccount(user));
  let req: { action?: unknown; domain?: unknown; enabled?: unknown };
  try {
    req = JSON.parse(body || '{}') as typeof req;
  } catch {
    return fail(problem('bad-request', 'The request is not JSON.'));
  }
  const domain = typeof req.domain === 'string' && req.domain !== '' ? req.domain : undefined;
  if (req.action === 'status') {
    const r = await accountStatus(ctx, who, domain);
    return isProblem(r) ? fail(r) : { ok: true, data: withWords(ctx, r) };
  }
  if (req.action === 'notify') {
    // The owner's own "e-mail me" switch (issue 28 item 5); only a boolean changes anything.
    if (typeof req.enabled !== 'boolean') return fail(problem('bad-request', 'Say whether to send e-mail (enabled: true or false).'));
    ownerNoticeStore(ctx).setNotify(who.name, req.enabled, ctx.now());
    const r = await accountStatus(ctx, who);
    return isProblem(r) ? fail(r) : { ok: true, data: withWords(ctx, r) };
  }
  if (req.action === 'check') {
    if (!domain) return fail(problem('bad-request', 'Name the domain to check.'));
    // The same answer for another account's domain as for one that does not exist.
    if (!scopeOf(ctx.root, who).sees(domain)) return fail(refusal(who, domain));
    const name = (checkName(domain) as { name: string }).name;
    const wait = limiter.take(who.name, name, ctx.now());
    if (wait) return fail(problem('check-limited', wait, { fix: `Checks are limited to one per domain per minute and ${CHECK_LIMITS.perAccountPerHour} per account per hour.` }));
    await checkDomains(ctx, [name]);
    const r = await accountStatus(ctx, who, name);
    return isProblem(r) ? fail(r) : { ok: true, data: withWords(ctx, r) };
  }
  return fail(problem('bad-request', 'Unknown action (status, check or notify).'));
}

/**
 * The page's words for each state (the product's one vocabulary, src/dane/category.ts), beside the
 * data, and the e-mail switch: `offered` when root turned owner notices on, `enabled` the owner's own.
 */
function withWords(ctx: AppContext, r: AccountStatus) {
  const offered = ctx.config.accountView.notify;
  const enabled = storedOr(() => ownerNoticeStore(ctx).notifyOn(r.account), true);
  return { ...r, notify: { offered, enabled }, words: { categories: Object.fromEntries(Object.entries(CATEGORIES).map(([k, c]) => [k, { label: c.label, explain: c.explain }])) } };
}

/** The "Check now" limits, kept by the running service (a restart forgets them: a few extra checks at most). */
export class CheckLimiter {
  private readonly lastByDomain = new Map<string, number>();
  private readonly byAccount = new Map<string, number[]>();

  /** null when a check may run now (and counts it), else the sentence saying when it may. */
  take(account: string, domain: string, now: number): string | null {
    const last = this.lastByDomain.get(domain);
    if (last !== undefined && now - last < CHECK_LIMITS.perDomainMs) return `${domain} was checked less than a minute ago; try again in ${Math.ceil((CHECK_LIMITS.perDomainMs - (now - last)) / 1000)} seconds.`;
    const recent = (this.byAccount.get(account) ?? []).filter((t) => now - t < 3_600_000);
    if (recent.length >= CHECK_LIMITS.perAccountPerHour) return `This account has used its ${CHECK_LIMITS.perAccountPerHour} checks for this hour; try again in ${Math.ceil((3_600_000 - (now - recent[0]!)) / 60_000)} minutes.`;
    recent.push(now);
    this.byAccount.set(account, recent);
    this.lastByDomain.set(domain, now);
    return null;
  }
}
