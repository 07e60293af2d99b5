/** README's providers table, made from the registry (test/unit/provider-docs.test.ts compares). */
import { PROVIDERS } from './registry.js';

const yes = (b: boolean) => (b ? 'yes' : 'no');

export function providersTable(): string[] {
  return [
    '| kind | what | secrets | TLSA | TXT | DNSSEC signing | DS lookup | Test button | changes per unit | marks records as ours | named instances |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...PROVIDERS.map((p) => {
      const c = p.capabilities;
      const secrets = p.secrets.length ? p.secrets.map((s) => `\`${s}\``).join(', ') : '–';
      return `| \`${p.kind}\` | ${p.label} | ${secrets} | ${yes(c.tlsa)} | ${yes(c.txt)} | ${yes(c.dnssec)} | ${yes(c.dsLookup)} | ${yes(c.verify)} | ${Number.isFinite(c.batchSize) ? c.batchSize : 'whole zone'} | ${yes(c.marksOwnership)} | ${yes(p.namedInstances)} |`;
    }),
  ];
}
