/**
 * The last step of turning MTA-STS off for a domain (retire.ts decides when): after the run's
 * apply removed our `_mta-sts` record (the plan deletes only the ledger-owned one; a foreign
 * v=STSv1 record stays), remove what TLSA Manager added to serve the policy, and nothing else:
 *   - the policy file, only while it is still exactly the text we served (the owner may have
 *     put their own there), removed by a child running as the account owner that never follows
 *     a link (lstat, O_NOFOLLOW); in a subdomain we created, `.well-known` and the document root
 *     go too when they are then empty;
 *   - the `mta-sts.<domain>` subdomain, only when we created it (subdomain_ours): WHM API 1
 *     delete_domain through the oneshot unit (the timer's /etc is read-only), which also removes
 *     the address record cPanel's create_subdomain had added (Cpanel/Sub.pm delsubdomain →
 *     Whostmgr::DNS::Domains::delsubdomain, line 801). TLSA Manager adds no address record itself;
 *   - the domain's stored state.
 * A step that fails leaves the state, so the next run tries again; one domain fails alone.
 */
import { spawn } from 'node:child_process';
import type { AppContext } from '../context.js';
import { mtaStsOwner } from '../dns/records.js';
import { problem, type Problem } from '../problem.js';
import { passwdIds } from './serve.js';
import { mtaStsStore, type MtaStsDomainState } from './store.js';

/** Whether the ledger still holds our `_mta-sts` record of the domain in one of `zones` (the zones that could hold the name). */
export function ourRecordLeft(ctx: AppContext, domain: string, zones: Iterable<string>): boolean {
  const owner = mtaStsOwner(domain);
  const state = ctx.state();
  return [...new Set(zones)].filter((z) => owner.endsWith(`.${z}`)).some((z) => state.ownersInZone(z).includes(owner));
}

/** The oneshot unit that runs `tlsa-manager mta-sts subdomain %i` as root with /etc writable (plugin/README.md). */
export const SUBDOMAIN_UNIT = (domain: string) => `tlsa-manager-mta-sts-subdomain@${domain}.service`;
const SYSTEMCTL = '/usr/bin/systemctl';

/**
 * Run as the account owner: argv[1] the policy file, argv[2] '1' to also remove the emptied
 * `.well-known` and document root; stdin the text we served. Exit 0 removed, 3 not ours any more
 * (kept), 4 not there.
 */
const REMOVER = `
const fs = require('fs'), path = require('path');
const file = process.argv[1], tidy = process.argv[2] === '1';
const want = fs.readFileSync(0);
let st;
try { st = fs.lstatSync(file); } catch (e) { if (e.code === 'ENOENT') process.exit(4); throw e; }
if (!st.isFile()) process.exit(3);
const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
const buf = Buffer.alloc(want.length + 1);
const n = fs.readSync(fd, buf, 0, buf.length, 0);
fs.closeSync(fd);
if (n !== want.length || !buf.subarray(0, n).equals(want)) process.exit(3);
fs.unlinkSync(file);
if (tidy) for (const d of [path.dirname(file), path.dirname(path.dirname(file))]) { try { fs.rmdirSync(d); } catch { break; } }
`;

type FileOutcome = 'removed' | 'changed' | 'absent';

/** Remove the policy file as its owner when it still holds `text`. */
export function removePolicyAsOwner(ids: { uid: number; gid: number }, file: string, text: string, tidy: boolean, timeoutMs = 10_000): Promise<FileOutcome | { failed: string }> {
  const me = process.getuid?.() ?? -1;
  if (me !== 0 && me !== ids.uid) return Promise.resolve({ failed: `TLSA Manager runs as uid ${me}, neither root nor the account owner` });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', REMOVER, file, tidy ? '1' : '0'], { ...(me === 0 ? { uid: ids.uid, gid: ids.gid } : {}), cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4000) err += c.toString('utf8');
    });
    child.on('error', (e) => resolve({ failed: e.message }));
    child.on('close', (code) => resolve(code === 0 ? 'removed' : code === 3 ? 'changed' : code === 4 ? 'absent' : { failed: (/Error: (.*)/.exec(err)?.[1] ?? `the remover exited with ${code}`).slice(0, 300) }));
    child.stdin.end(text);
  });
}

/** Ask systemd to run the oneshot unit for the domain (it removes the subdomain when the state says so). */
function runSubdomainUnit(ctx: AppContext, domain: string, timeoutMs = 6 * 60_000): Promise<string | null> {
  if (!ctx.root.exists(SYSTEMCTL)) return Promise.resolve(`${SYSTEMCTL} is not on this server`);
  return new Promise((resolve) => {
    const child = spawn(ctx.root.path(SYSTEMCTL), ['start', SUBDOMAIN_UNIT(domain)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 2000) err += c.toString('utf8');
    });
    child.on('error', (e) => resolve(e.message));
    child.on('close', (code) => resolve(code === 0 ? null : `systemctl start ${SUBDOMAIN_UNIT(domain)} exited with ${code}: ${err.trim().slice(0, 200)}`));
  });
}

/**
 * Remove what was added for a retired domain whose `_mta-sts` record is gone. `owner` is the
 * account of the domain ('' when the domain is no longer on the server).
 */
export async function removeServed(ctx: AppContext, state: MtaStsDomainState, owner: string, actor: string): Promise<Problem | null> {
  const store = mtaStsStore(ctx);
  const domain = state.domain;
  const done: string[] = [];
  const fail = (what: string) => problem('mta-sts-remove-failed', `Turning MTA-STS off for ${domain}: ${what}; the next run tries again.`, { subject: domain, fix: `See "tlsa-manager mta-sts status ${domain}" and the activity log; the state of ${domain} is kept until this step succeeds.` });
  if (state.policyFile && state.servedText !== null) {
    const ids = passwdIds(ctx.root.readText('/etc/passwd') ?? '', owner);
    if (ids && ids.uid !== 0) {
      const r = await removePolicyAsOwner(ids, state.policyFile, state.servedText, state.subdomainOurs);
      if (typeof r === 'object') return fail(`the policy file ${state.policyFile} could not be removed (${r.failed})`);
      done.push(r === 'removed' ? `policy file ${state.policyFile} removed` : r === 'changed' ? `policy file ${state.policyFile} kept: it is no longer the text TLSA Manager wrote` : 'policy file already gone');
    } else done.push(`policy file ${state.policyFile} left: the account ${owner || '(none)'} is not on the server`);
    store.markCreated(domain, { policyFile: null });
  }
  if (state.subdomainOurs) {
    const failed = await runSubdomainUnit(ctx, domain);
    if (failed || mtaStsStore(ctx).get(domain)?.subdomainOurs) return fail(`the subdomain mta-sts.${domain} TLSA Manager created is not removed yet (${failed ?? 'the unit did not remove it'})`);
    done.push(`subdomain mta-sts.${domain} removed (WHM API 1 delete_domain; cPanel removes its DNS record)`);
  }
  store.remove(domain);
  ctx.state().logActivity({ actor, kind: 'mta-sts', zone: null, subject: domain, detail: `MTA-STS turned off: _mta-sts record removed${done.length ? `, ${done.join(', ')}` : ''}`, ok: true });
  return null;
}
