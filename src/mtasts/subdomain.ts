/**
 * The `mta-sts.<domain>` subdomain, made the cPanel way so Apache gets a virtual host for it,
 * the account owner sees it in cPanel » Domains, and AutoSSL covers its name:
 * WHM API 1 `create_subdomain` (Whostmgr/API/1/UserDomains.pm create_subdomain, lines 260-306:
 * `domain` is the full name, `document_root` is relative to the home and must begin
 * `public_html/` when cPanel confines subdomains there, Cpanel/Validate/DocumentRoot.pm lines
 * 50-72; the owner is found from the parent domain; a name some account already has is refused),
 * which runs Cpanel/Sub.pm _create_local_subdomain: the DNS record for the name (lines 338-348),
 * the userdata with the document root (lines 361-403), the document root made as the user
 * (line 471), and the SSL setup for the new name (lines 573-577). `delete_domain` (same file,
 * lines 161-225) removes it again. Both write under /etc (userdomains, the Apache
 * configuration), so the service, whose /etc is read-only, asks systemd to run this in the
 * oneshot unit tlsa-manager-mta-sts-subdomain@<domain>.service (plugin/README.md).
 */
import type { AppContext } from '../context.js';
import { readAccounts } from '../cpanel/accounts.js';
import { enclosingZone, readParsedZone } from '../cpanel/local-zones.js';
import { WhmApi } from '../cpanel/whmapi.js';
import { checkName } from '../dns/names.js';
import { isProblem, problem, type Problem } from '../problem.js';
import { recordsAt } from '../zonefile/index.js';
import { mtaStsStore } from './store.js';

/** Where the policy's subdomain keeps its files, relative to the home (valid under either cPanel setting). */
export function subdomainDocroot(domain: string): string {
  return `public_html/mta-sts.${domain}`;
}

/**
 * Why `mta-sts.<domain>` must not be taken, or null: it is already a domain of some account (the
 * customer made it: never ours to take over, even for MTA-STS), or the domain's zone already
 * has an address or alias record there (it points somewhere: perhaps a hosted MTA-STS service).
 */
export function nameTaken(ctx: Pick<AppContext, 'root'>, domain: string, localZones: Set<string>): Problem | null {
  const name = `mta-sts.${domain}`;
  const owner = readAccounts(ctx.root).domains.find((d) => d.domain === name);
  const fix = `Leave ${domain} out of mtaSts.publish and serve its policy there yourself, or remove ${name} (cPanel » Domains, or its DNS records) so TLSA Manager can create its own.`;
  if (owner) return problem('mta-sts-name-taken', `${name} is already a domain of the account ${owner.owner}; TLSA Manager never takes over a name it did not create.`, { subject: domain, fix });
  const zone = enclosingZone(name, localZones);
  if (!zone) return null;
  const parsed = readParsedZone(ctx.root, zone);
  if (isProblem(parsed)) return parsed;
  const used = ['A', 'AAAA', 'CNAME'].flatMap((t) => recordsAt(parsed, name, t));
  if (used.length > 0) return problem('mta-sts-name-taken', `${name} already has ${used.map((r) => `${r.type} ${r.rdata}`).join(', ')} in the zone ${zone}; TLSA Manager never takes over a name it did not create.`, { subject: domain, fix });
  return null;
}

/** Create the subdomain through WHM API 1 (root, in the oneshot unit), and remember it is ours. */
export async function createSubdomain(ctx: AppContext, domain: string, localZones: Set<string>, actor: string): Promise<Problem | null> {
  const c = checkName(domain);
  if (!c.ok) return problem('name-invalid', `"${domain}" is not a domain name (${c.reason}).`);
  const taken = nameTaken(ctx, c.name, localZones);
  if (taken) return taken;
  if (!WhmApi.available(ctx.root)) return problem('whmapi-failed', 'WHM API 1 (/usr/local/cpanel/bin/whmapi1) is not on this server.', { subject: domain });
  try {
    await new WhmApi(ctx.root).call('create_subdomain', [['domain', `mta-sts.${c.name}`], ['document_root', subdomainDocroot(c.name)]]);
  } catch (err) {
    return { ...(err as { problem?: Problem }).problem ?? problem('whmapi-failed', (err as Error).message), subject: domain };
  }
  const store = mtaStsStore(ctx);
  store.ensure(c.name, ctx.config.mtaSts.mode, new Date(ctx.now()).toISOString());
  store.markCreated(c.name, { subdomainOurs: true });
  ctx.state().logActivity({ actor, kind: 'mta-sts', zone: null, subject: c.name, detail: `subdomain mta-sts.${c.name} created (WHM API 1 create_subdomain, document root ~/${subdomainDocroot(c.name)})`, ok: true });
  return null;
}

/** Remove the subdomain, only when TLSA Manager created it (delete_domain). */
export async function removeSubdomain(ctx: AppContext, domain: string, actor: string): Promise<Problem | null> {
  const store = mtaStsStore(ctx);
  if (!store.get(domain)?.subdomainOurs) return null;
  try {
    await new WhmApi(ctx.root).call('delete_domain', [['domain', `mta-sts.${domain}`]]);
  } catch (err) {
    return { ...(err as { problem?: Problem }).problem ?? problem('whmapi-failed', (err as Error).message), subject: domain };
  }
  store.markCreated(domain, { subdomainOurs: false, policyFile: null });
  ctx.state().logActivity({ actor, kind: 'mta-sts', zone: null, subject: domain, detail: `subdomain mta-sts.${domain} removed (WHM API 1 delete_domain): TLSA Manager had created it`, ok: true });
  return null;
}
