import { parse as parseYaml } from 'yaml';
import { checkName, printable } from '../dns/names.js';
import { problem, type Problem } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';
import { SealedSet, StampedValue } from '../util/change-stamp.js';

export interface DomainOwner {
  domain: string;
  owner: string;
  /** main | addon | parked | sub, when the account's userdata says. */
  kind?: string;
}

export interface Accounts {
  domains: DomainOwner[];
  problems: Problem[];
}

/**
 * `/etc/userdomains` lists every domain with its owner (`domain: user`); `*: nobody` is not a
 * domain. Bad lines become problems; they never stop the scan.
 */
export function readAccounts(root: ServerRoot, opts: { kinds?: boolean } = {}): Accounts {
  const parsed = parsedUserdomains(root);
  if (!opts.kinds) return parsed; // frozen: no caller can change the cached parse
  // Kinds come from one YAML file per account: worth it for display, not for plan or hooks.
  const seen = new Map(parsed.domains.map((d) => [d.domain, { ...d }]));
  annotateKinds(root, seen);
  return { domains: [...seen.values()], problems: [...parsed.problems] };
}

/**
 * The last parse of /etc/userdomains, kept while the file's change stamp stays the same
 * (util/change-stamp.ts): the running service answers hook events without re-parsing 10,000
 * lines for each (cPanel replaces the file whole when accounts change, which changes the stamp).
 */
const userdomains = new StampedValue<Accounts>();

function parsedUserdomains(root: ServerRoot): Accounts {
  return userdomains.get([root.path('/etc/userdomains')], () => {
    const parsed = parseUserdomains(root);
    // Frozen: no caller can change the kept parse.
    return Object.freeze({ domains: Object.freeze(parsed.domains.map((d) => Object.freeze(d))) as DomainOwner[], problems: Object.freeze(parsed.problems) as Problem[] });
  });
}

/** Each domain's owner from /etc/userdomains, made once per parse (hooks look up one or two names). */
const ownerIndexes = new WeakMap<Accounts, ReadonlyMap<string, string>>();

export function domainOwners(root: ServerRoot): ReadonlyMap<string, string> {
  const parsed = parsedUserdomains(root);
  let index = ownerIndexes.get(parsed);
  if (!index) ownerIndexes.set(parsed, (index = new Map(parsed.domains.map((d) => [d.domain, d.owner]))));
  return index;
}

function parseUserdomains(root: ServerRoot): Accounts {
  const problems: Problem[] = [];
  const text = root.readText('/etc/userdomains');
  if (text === null) {
    return {
      domains: [],
      problems: [problem('no-userdomains', '/etc/userdomains does not exist, so no customer domains were found.', { fix: 'Run this on a cPanel server, or pass --root for a copy of one.', severity: 'error' })],
    };
  }
  const seen = new Map<string, DomainOwner>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) {
      problems.push(problem('userdomains-syntax', `/etc/userdomains line ${i + 1}: expected "domain: user", got "${printable(line)}".`, { severity: 'warning' }));
      return;
    }
    const name = line.slice(0, colon).trim();
    const owner = line.slice(colon + 1).trim();
    if (name === '*') return;
    const check = checkName(name);
    if (!check.ok) {
      problems.push(problem('name-invalid', `/etc/userdomains line ${i + 1}: "${printable(name)}" is not a valid domain name (${check.reason}); skipped.`, { subject: printable(name), severity: 'warning' }));
      return;
    }
    if (!/^[a-z0-9_][a-z0-9_.-]{0,31}$/i.test(owner)) {
      problems.push(problem('owner-invalid', `/etc/userdomains line ${i + 1}: "${printable(owner)}" is not a valid cPanel user name; skipped.`, { subject: check.name, severity: 'warning' }));
      return;
    }
    if (!seen.has(check.name)) seen.set(check.name, { domain: check.name, owner });
  });
  return { domains: [...seen.values()], problems };
}

/** Domain kinds from `/var/cpanel/userdata/<user>/main` (YAML); best effort, for display only. */
function annotateKinds(root: ServerRoot, domains: Map<string, DomainOwner>): void {
  const owners = new Set([...domains.values()].map((d) => d.owner));
  for (const user of owners) {
    let doc: unknown;
    try {
      const text = root.readText(`/var/cpanel/userdata/${user}/main`);
      if (text === null) continue;
      doc = parseYaml(text);
    } catch {
      continue;
    }
    if (!doc || typeof doc !== 'object') continue;
    const d = doc as Record<string, unknown>;
    const mark = (name: unknown, kind: string) => {
      if (typeof name !== 'string') return;
      const entry = domains.get(name.toLowerCase());
      if (entry && !entry.kind) entry.kind = kind;
    };
    mark(d.main_domain, 'main');
    if (d.addon_domains && typeof d.addon_domains === 'object') Object.keys(d.addon_domains).forEach((n) => mark(n, 'addon'));
    if (Array.isArray(d.parked_domains)) d.parked_domains.forEach((n) => mark(n, 'parked'));
    if (Array.isArray(d.sub_domains)) d.sub_domains.forEach((n) => mark(n, 'sub'));
  }
}

/** `/etc/localdomains` (mail delivered here) and `/etc/remotedomains` (mail handled elsewhere), read again only when either changes. */
const mailRouting = new StampedValue<{ local: ReadonlySet<string>; remote: ReadonlySet<string> }>();

export function readMailRouting(root: ServerRoot): { local: ReadonlySet<string>; remote: ReadonlySet<string> } {
  const read = (p: string) => {
    const out: string[] = [];
    for (const line of (root.readText(p) ?? '').split('\n')) {
      const c = checkName(line.trim());
      if (c.ok) out.push(c.name);
    }
    return new SealedSet(out);
  };
  return mailRouting.get([root.path('/etc/localdomains'), root.path('/etc/remotedomains')], () => Object.freeze({ local: read('/etc/localdomains'), remote: read('/etc/remotedomains') }));
}

export function readHostname(root: ServerRoot): string | null {
  const c = checkName((root.readText('/etc/hostname') ?? '').trim());
  return c.ok ? c.name : null;
}

/** The server's IPv4 addresses: `/var/cpanel/mainip` plus `/etc/ips` (`IP:netmask:broadcast`). */
export function readAddressFiles(root: ServerRoot): string[] {
  const out = new Set<string>();
  const main = (root.readText('/var/cpanel/mainip') ?? '').trim();
  if (isIp(main)) out.add(main);
  for (const line of (root.readText('/etc/ips') ?? '').split('\n')) {
    const ip = line.split(':')[0]!.trim();
    if (isIp(ip)) out.add(ip);
  }
  // Behind NAT, /var/cpanel/cpnat maps each local address to the public one the world (and the
  // MX records) use: `local public` per line (Cpanel/NAT/Object.pm _parse_nat_file).
  for (const line of (root.readText('/var/cpanel/cpnat') ?? '').split('\n')) {
    for (const ip of line.trim().split(/\s+/)) if (isIp(ip)) out.add(ip);
  }
  return [...out];
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(':'));
}
