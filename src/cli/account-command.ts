import { accountIdentity } from '../access/identity.js';
import { noAccount } from '../access/scope.js';
import { accountStatus, type AccountStatus, type DomainStatus } from '../access/status.js';
import { CATEGORIES } from '../dane/category.js';
import { isProblem, problem, ProblemError } from '../problem.js';
import { json, type Command } from './types.js';

const USAGE = 'account status --user NAME [--domain D] [--json]';

/**
 * `account status`: exactly what one cPanel account may see (the data of its page, issue 28).
 * An invalid or unknown account exits 2; a domain that is not the account's exits 1 with the
 * same words as a domain that does not exist.
 */
export const accountCommand: Command = {
  async run({ ctx, values, args }) {
    if (args[0] !== 'status' || args.length > 1) throw new ProblemError(problem('usage', `account: ${args[0] ? `unknown subcommand "${args[0]}"` : 'no subcommand'} (${USAGE})`));
    const user = values.user;
    if (typeof user !== 'string') throw new ProblemError(problem('usage', `account status needs --user NAME (${USAGE})`));
    const who = accountIdentity(ctx!.root, user);
    if (typeof who === 'string' || who.kind !== 'account') throw new ProblemError(noAccount(user));
    const r = await accountStatus(ctx!, who, values.domain as string | undefined);
    if (isProblem(r)) throw new ProblemError(r);
    return { output: values.json ? json(r) : text(r), exitCode: 0 };
  },
};

const MAIL: Record<DomainStatus['mail'], string> = {
  here: 'Mail to this domain is delivered to this server.',
  elsewhere: 'Mail to this domain goes to another server, so its protection is set up there.',
  none: 'No mail is delivered to this domain as far as this server knows.',
};

/** One block per domain, in an account owner's words (each DNS term explained once, in line). */
function text(r: AccountStatus): string {
  if (r.domains.length === 0) return `Account ${r.account} has no domains.`;
  const out: string[] = [`Email security for account ${r.account}`];
  for (const d of r.domains) {
    out.push('', d.domain, `  ${MAIL[d.mail]}`);
    out.push(`  DANE (senders check your mail server's certificate against records in your DNS): ${CATEGORIES[d.dane.category].label}. ${CATEGORIES[d.dane.category].explain}`);
    for (const p of d.dane.problems) out.push(`    - ${p.message}${p.fix ? ` What to do: ${p.fix}` : ''}`);
    out.push(`  Your DNS is ${d.dnsHost === 'here' ? 'hosted on this server, which keeps the records up to date' : d.dnsHost === 'elsewhere' ? 'hosted elsewhere, so you add the records below yourself' : `hosted at ${d.dnsHost}, which this server updates for you`}.`);
    out.push(`  DNSSEC (a signature that proves your DNS answers are genuine): ${dnssecWords(d)}`);
    if (d.dnssec.state === 'signed-no-ds') for (const ds of d.dnssec.ds) out.push(`    DS record for your registrar: key tag ${ds.keyTag}, algorithm ${ds.algorithm}, digest type ${ds.digestType}, digest ${ds.digest}`);
    if (d.recordsByHand.length === 0 && d.dnsHost === 'elsewhere' && d.mail === 'here') {
      out.push('  This server has not yet seen which mail server names your domain uses (no check so far), so it cannot list the records to add. Ask your host to run a check.');
    }
    if (d.recordsByHand.length > 0) {
      out.push('  Add these TLSA records at your DNS host (they stay valid when your certificate is renewed; they only count once your DNS host signs your domain with DNSSEC):');
      for (const h of d.recordsByHand) out.push(`    ${h.owner} ${h.ttl} IN TLSA ${h.usage} ${h.selector} ${h.matchingType} ${h.data}`, `      ${h.why}`);
    }
    if (d.renewalBreaks) out.push(`  Warning: the TLSA records at your DNS host name only your mail server's current key. Your certificate is renewed by about ${d.renewalBreaks.slice(0, 10)} with a new key; add the records above before then and remove the old ones, or senders that check them may refuse your mail.`);
    if (d.mtaSts.mode !== 'off') {
      out.push(`  MTA-STS (the protection Gmail, Yahoo and others check): ${d.mtaSts.state === 'broken' ? 'on, but a check found what makes those senders refuse your mail; your host has been alerted' : d.mtaSts.mode === 'enforce' ? 'on; those senders deliver only over a checked, encrypted connection' : 'testing; senders report problems but still deliver'}.`);
      for (const p of d.mtaSts.problems) out.push(`    - ${p.message}${p.fix ? ` What to do: ${p.fix}` : ''}`);
    }
    out.push(`  Reports from sending servers (last 7 days): ${d.tlsrpt ? `${d.tlsrpt.successful7d} secure connections, ${d.tlsrpt.failed7d} failed` : 'none received yet'}.`);
  }
  return out.join('\n');
}

function dnssecWords(d: DomainStatus): string {
  switch (d.dnssec.state) {
    case 'secure':
      return 'on and confirmed by your registrar.';
    case 'signed-no-ds':
      return 'your domain is signed here; add this DS record at your registrar to switch the protection on.';
    case 'unsigned':
      return 'off.';
    case 'parent-unsigned':
      return 'your domain is signed, but the zone above it is not, so senders cannot check the signature.';
    case 'unsupported-algorithm':
      return 'signed with a method most senders do not check, so it counts as off.';
    case 'bogus':
      return 'broken: the signature does not match what your registrar holds, so some senders cannot reach you. Ask your host.';
    default:
      return 'not known yet.';
  }
}
