/**
 * Serving each domain's policy the cPanel way, and the order that keeps senders safe:
 * write the policy → fetch it back over HTTPS as a sender would → only then record it as served,
 * so the plan publishes its id (mtasts/desired.ts). When the MX set changes, the new policy (with
 * the new MX) is served before anything else announces it.
 *
 * Where: the document root of the account's subdomain `mta-sts.<domain>` (a subdomain cPanel
 * created, so Apache serves it and AutoSSL covers its name; see docs/reference-notes.md "MTA-STS").
 * Its userdata file (/var/cpanel/userdata/<user>/mta-sts.<domain>, written by Cpanel/Sub.pm
 * _create_local_subdomain through Cpanel::Config::userdata::add_sub_domain_data, lines 364-403)
 * names the document root. That directory belongs to the account owner, so the file is written by
 * a child process running as the owner (uid/gid from /etc/passwd, supplementary groups dropped by
 * libuv): a link the owner planted can only lead where the owner could write anyway.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { problem, type Problem } from '../problem.js';
import type { DomainReport } from '../cpanel/scan.js';
import type { WantedPolicy } from './desired.js';
import { fetchPolicy, policyUrl, type FetchResult } from './fetch.js';
import { mtaStsStore } from './store.js';

export const POLICY_PATH = '.well-known/mta-sts.txt';

export interface SubdomainPlace {
  user: string;
  uid: number;
  gid: number;
  docroot: string;
}

export interface ServeOutcome {
  domain: string;
  /** The policy fetched back equals the one wanted, and its id may be announced. */
  served: boolean;
  /** The served id changed in this run (the TXT record will change). */
  changed: boolean;
  problem?: Problem;
}

/** The account's uid and gid from the server's /etc/passwd, or null. */
export function passwdIds(passwd: string, user: string): { uid: number; gid: number; home: string } | null {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!)) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  return null;
}

/**
 * Where `mta-sts.<domain>` of the account is served from, or why it cannot be used: the
 * subdomain must exist in the account's userdata with a document root inside the account's home
 * (cPanel's own rule, Cpanel/Sub.pm _create_subdomain_on_all_nodes lines 112-118) and the user
 * must not be root.
 */
export function locateSubdomain(ctx: Pick<AppContext, 'root'>, user: string, domain: string): SubdomainPlace | Problem {
  const name = `mta-sts.${domain}`;
  const fix = `Create the subdomain ${name} in the account ${user} as root: systemctl start tlsa-manager-mta-sts-subdomain@${domain}.service (WHM API 1 create_subdomain; see plugin/README.md), or in cPanel » Domains.`;
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/i.test(user) || user === 'root') return problem('mta-sts-subdomain-missing', `${domain} has no usable cPanel account (${user}) to serve ${name} from.`, { subject: domain, fix });
  let doc: unknown;
  try {
    const text = ctx.root.readText(`/var/cpanel/userdata/${user}/${name}`);
    if (text === null) return problem('mta-sts-subdomain-missing', `${name} is not a subdomain of the account ${user}, so nothing serves the MTA-STS policy of ${domain}.`, { subject: domain, fix });
    doc = parseYaml(text);
  } catch (err) {
    return problem('mta-sts-subdomain-missing', `The userdata of ${name} cannot be read (${(err as Error).message.slice(0, 120)}).`, { subject: domain, fix });
  }
  const d = (doc && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
  const ids = passwdIds(ctx.root.readText('/etc/passwd') ?? '', user);
  const docroot = typeof d.documentroot === 'string' ? d.documentroot : '';
  if (!ids || ids.uid === 0) return problem('mta-sts-subdomain-missing', `The account ${user} of ${domain} is not in /etc/passwd (or is root).`, { subject: domain, fix });
  if (d.user !== user || !docroot.startsWith(`${ids.home.replace(/\/$/, '')}/`) || docroot.includes('/../') || docroot.endsWith('/..')) {
    return problem('mta-sts-subdomain-missing', `The userdata of ${name} does not name a document root inside the home of ${user}.`, { subject: domain, fix });
  }
  return { user, uid: ids.uid, gid: ids.gid, docroot };
}

/**
 * Run as the account owner: `.well-known` made if missing (never through a link: lstat), the
 * policy written to a new file (O_EXCL|O_NOFOLLOW), synced, renamed over mta-sts.txt, mode 0644.
 */
const WRITER = `
const fs = require('fs'), path = require('path');
const root = process.argv[1];
const text = fs.readFileSync(0, 'utf8');
if (!fs.lstatSync(root).isDirectory()) throw new Error('the document root is not a directory');
const dir = path.join(root, '.well-known');
try { fs.mkdirSync(dir, { mode: 0o755 }); } catch (e) { if (e.code !== 'EEXIST') throw e; }
if (!fs.lstatSync(dir).isDirectory()) throw new Error('.well-known is not a directory');
const tmp = path.join(dir, '.mta-sts.txt.tlsa-manager.' + process.pid);
const c = fs.constants;
const fd = fs.openSync(tmp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o644);
fs.writeSync(fd, text); fs.fchmodSync(fd, 0o644); fs.fsyncSync(fd); fs.closeSync(fd);
fs.renameSync(tmp, path.join(dir, 'mta-sts.txt'));
`;

/** Write the policy into the subdomain's document root as its owner. Resolves null, or the reason it failed. */
export function writePolicyAsOwner(place: SubdomainPlace, text: string, timeoutMs = 10_000): Promise<string | null> {
  const me = process.getuid?.() ?? -1;
  if (me !== 0 && me !== place.uid) return Promise.resolve(`TLSA Manager runs as uid ${me}, neither root nor the account owner, so it cannot write as ${place.user}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', WRITER, place.docroot], {
      ...(me === 0 ? { uid: place.uid, gid: place.gid } : {}),
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: timeoutMs,
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4000) err += c.toString('utf8');
    });
    child.on('error', (e) => resolve(e.message));
    child.on('close', (code) => resolve(code === 0 ? null : (/Error: (.*)/.exec(err)?.[1] ?? `the writer exited with ${code}`).slice(0, 300)));
    child.stdin.end(text);
  });
}

/** The CA file that replaces the system store (lab only), read once per run. */
export function labCa(ctx: Pick<AppContext, 'config'>): string | undefined {
  const f = ctx.config.mtaSts.caFile;
  return f ? readFileSync(f, 'utf8') : undefined;
}

function notServed(domain: string, got: FetchResult, wanted: string): Problem {
  if (!got.ok && got.kind === 'certificate') return problem('mta-sts-certificate-invalid', `${policyUrl(domain)}: ${got.reason}.`, { subject: domain, fix: `Let AutoSSL issue a certificate for mta-sts.${domain} (WHM » Manage AutoSSL » Run AutoSSL for the account); its DNS must point at this server.` });
  if (!got.ok) return problem('mta-sts-policy-unreachable', `The MTA-STS policy of ${domain} cannot be fetched: ${got.reason}.`, { subject: domain, fix: `Make https://mta-sts.${domain}/ reach this server's web server (an A/AAAA record for mta-sts.${domain}, the subdomain in the account, no redirect).` });
  return problem('mta-sts-policy-unreachable', `${policyUrl(domain)} serves another text than the policy TLSA Manager wrote (${got.body.length} bytes; expected ${wanted.length}).`, { subject: domain, fix: `Check that nothing (a rewrite rule, a cache, another vhost) answers for mta-sts.${domain} instead of its document root.` });
}

/**
 * Serve one domain's wanted policy: fetch it; when it is not the wanted text, write it as the
 * owner and fetch again; when the fetch returns exactly the wanted text, record it as served.
 */
export async function serveDomain(ctx: AppContext, policy: WantedPolicy, owner: string, opts: { ca?: string; actor: string; timeoutMs?: number }): Promise<ServeOutcome> {
  const store = mtaStsStore(ctx);
  const state = store.ensure(policy.domain, ctx.config.mtaSts.mode, new Date(ctx.now()).toISOString());
  const fetchOpts = { resolver: resolverFor(ctx), ...(opts.ca ? { ca: opts.ca } : {}), timeoutMs: opts.timeoutMs ?? 10_000 };
  let got = await fetchPolicy(policy.domain, fetchOpts);
  if (!(got.ok && got.body === policy.text)) {
    // Only into a subdomain TLSA Manager created: one the customer made is theirs (never taken over).
    if (!state.subdomainOurs) return { domain: policy.domain, served: false, changed: false, problem: problem('mta-sts-subdomain-missing', `mta-sts.${policy.domain} was not created by TLSA Manager, so the policy of ${policy.domain} is not written.`, { subject: policy.domain, fix: `As root: systemctl start tlsa-manager-mta-sts-subdomain@${policy.domain}.service (creates it through WHM API 1; refused when the name is already used).` }) };
    const place = locateSubdomain(ctx, owner, policy.domain);
    if ('code' in place) return { domain: policy.domain, served: false, changed: false, problem: place };
    const failed = await writePolicyAsOwner(place, policy.text);
    if (failed) return { domain: policy.domain, served: false, changed: false, problem: problem('mta-sts-write-failed', `The MTA-STS policy of ${policy.domain} could not be written to ${place.docroot}/${POLICY_PATH}: ${failed}.`, { subject: policy.domain, fix: `Check the document root of mta-sts.${policy.domain} (it must be a directory the account ${owner} owns).` }) };
    store.markCreated(policy.domain, { policyFile: `${place.docroot}/${POLICY_PATH}` });
    got = await fetchPolicy(policy.domain, fetchOpts);
    if (!(got.ok && got.body === policy.text)) return { domain: policy.domain, served: false, changed: false, problem: notServed(policy.domain, got, policy.text) };
  }
  const changed = state.servedId !== policy.id;
  // Turning off (retire.ts): the none policy served starts the retirement with the max_age senders
  // may hold; a real policy served again (opted in again) ends it.
  if (policy.mode === 'none' && policy.heldMaxAge !== undefined && (state.retiring === null || changed)) store.setRetiring(policy.domain, policy.heldMaxAge);
  if (policy.mode !== 'none' && state.retiring !== null) store.setRetiring(policy.domain, null);
  if (changed || state.servedText !== policy.text) {
    store.markServed(policy.domain, policy.text, policy.id, new Date(ctx.now()).toISOString());
    ctx.state().logActivity({ actor: opts.actor, kind: 'mta-sts', zone: null, subject: policy.domain, detail: `MTA-STS ${policy.mode} policy (id ${policy.id}, mx ${policy.mx.join(', ')}) served and fetched back at ${policyUrl(policy.domain)}; its id is published next`, ok: true });
  }
  return { domain: policy.domain, served: true, changed };
}

/** Serve every wanted policy (one bad domain fails alone). */
export async function serveAll(ctx: AppContext, policies: WantedPolicy[], domains: DomainReport[], actor: string): Promise<ServeOutcome[]> {
  if (policies.length === 0) return [];
  const owners = new Map(domains.map((d) => [d.domain, d.owner]));
  const ca = labCa(ctx);
  const out: ServeOutcome[] = [];
  for (const p of policies) {
    try {
      out.push(await serveDomain(ctx, p, owners.get(p.domain) ?? '', { actor, ...(ca ? { ca } : {}) }));
    } catch (err) {
      out.push({ domain: p.domain, served: false, changed: false, problem: problem('mta-sts-write-failed', `Serving the MTA-STS policy of ${p.domain} failed: ${(err as Error).message.slice(0, 200)}.`, { subject: p.domain }) });
    }
  }
  return out;
}
