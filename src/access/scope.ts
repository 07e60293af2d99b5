import { readAccounts, type DomainOwner } from '../cpanel/accounts.js';
import { checkName, printable } from '../dns/names.js';
import { problem, type Problem } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';
import { accountsOf, type Identity } from './identity.js';

/**
 * What one identity may see: the one authorization rule (issue 28). A domain outside the scope
 * is answered exactly as a domain that does not exist (`refusal`), so no answer tells another
 * account's domain from a missing one.
 */
export interface Scope {
  who: Identity;
  /** The identity's domains with their owners, in /etc/userdomains order. */
  domains: DomainOwner[];
  sees(domain: string): boolean;
}

export function scopeOf(root: ServerRoot, who: Identity): Scope {
  const accounts = accountsOf(root, who);
  const domains = readAccounts(root).domains.filter((d) => accounts === null || accounts.has(d.owner));
  const names = new Set(domains.map((d) => d.domain));
  return {
    who,
    domains,
    sees: (domain) => {
      const c = checkName(domain);
      return c.ok && names.has(c.name);
    },
  };
}

/** The name an identity is refused under (root has no account name). */
function nameOf(who: Identity): string {
  return who.kind === 'root' ? 'root' : who.name;
}

/**
 * The one answer for a domain the identity may not see or that does not exist: the same bytes
 * either way (the asked name as given, made printable; nothing looked up about it).
 */
export function refusal(who: Identity, asked: string): Problem {
  const c = checkName(asked);
  const shown = c.ok ? c.name : printable(asked);
  return problem('domain-not-in-scope', `no domain ${shown} for account ${nameOf(who)}`, { fix: 'Ask for one of the domains the account holds.' });
}

/** The one answer for an account name that is invalid or unknown (exit 2 on the command line). */
export function noAccount(asked: string): Problem {
  return problem('account-unknown', `no account ${printable(asked, 40)}`, { fix: 'Give the cPanel user name of an existing account (lower case, at most 16 characters).' });
}
