import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseZone, tlsaRecordsAt } from '../../src/zonefile/index.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { hookEvent } from '../helpers/cpanel-fixtures.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist/cli.js');
const ZONE = 'multi.test';
const SUBS = Array.from({ length: 20 }, (_, i) => `sub${i}.${ZONE}`);
let root: string;
let spki: Record<string, string>;
let interSpki: string;

beforeAll(() => {
  const pki = makePki();
  const leaves = Object.fromEntries(SUBS.map((d) => [d, pki.leaf(`mail.${d}`)]));
  spki = Object.fromEntries(SUBS.map((d) => [d, opensslTlsaData(leaves[d]!.cert, 1, 1)]));
  interSpki = opensslTlsaData(pki.interCert, 1, 1);
  root = makeFakeRoot({
    domains: Object.fromEntries(SUBS.map((d, i) => [d, `user${i}`])),
    local: SUBS,
    zones: { [ZONE]: cpanelZone(ZONE, SUBS.flatMap((d) => [`${d}. IN MX 10 mail.${d}.`, `mail.${d}. IN A 192.0.2.10`])) },
    domainTls: Object.fromEntries(SUBS.map((d) => [`mail.${d}`, readFileSync(leaves[d]!.combined, 'utf8')])),
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
});

describe('20 hooks at once for domains of one zone', () => {
  it('every record lands, the zone stays valid, nothing is lost', async () => {
    const zoneFile = join(root, 'var/named', `${ZONE}.db`);
    const before = readFileSync(zoneFile, 'utf8');
    const outputs = await Promise.all(
      SUBS.map(async (domain) => {
        const input = hookEvent('SSL-installssl-post', { domain: `mail.${domain}` });
        const child = run(process.execPath, [CLI, 'hook', '--root', root]);
        child.child.stdin!.end(input);
        return (await child).stdout.trim();
      }),
    );
    for (const o of outputs) expect(o).toMatch(/^1 reconciled/);

    execFileSync('named-checkzone', ['-q', '-i', 'local', ZONE, zoneFile]);
    const after = readFileSync(zoneFile, 'utf8');
    const parsed = parseZone(after, ZONE);
    for (const d of SUBS) {
      const owners = [25, 465, 587].map((p) => `_${p}._tcp.mail.${d}`);
      const data = tlsaRecordsAt(parsed, owners).map((r) => `${r.owner} ${r.usage} ${r.data}`).sort();
      expect(data).toEqual(owners.flatMap((o) => [`${o} 2 ${interSpki}`, `${o} 3 ${spki[d]}`]).sort());
    }
    // Everything that was there before is still there, byte for byte (only the serial moved).
    const nonTlsa = (text: string) => text.split('\n').filter((l) => !/\bTLSA\b/.test(l) && !/Serial/.test(l));
    expect(nonTlsa(after)).toEqual(nonTlsa(before));
  });
});
