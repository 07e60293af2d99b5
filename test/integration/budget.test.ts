import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { ISSUER_FIXTURES, LE_SPKI, combined, leafFrom, lookalikeCa, spkiOf } from '../helpers/le-chain.js';
import { createContext, createLogger } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';

/**
 * Issue 9 end to end on a cPanel-shaped root (zone-file mode): a Let's Encrypt RSA certificate
 * from R12, the record budget per owner, and retirement by the timer without --force.
 * Records are counted by BIND's named-compilezone, not by our parser.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const HOUR = 3_600_000;
const ECDSA = ['E5', 'E6', 'E7', 'E8', 'E9', 'YE1', 'YE2', 'YE3'];

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  try {
    return { status: 0, stdout: execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

/** owner → TLSA rdata strings, as named-compilezone reads the zone file. */
function tlsaByOwner(root: string, zone: string): Map<string, string[]> {
  const text = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', zone, join(root, `var/named/${zone}.db`)], { encoding: 'utf8' });
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\d+\s+IN\s+TLSA\s+(.*)$/.exec(line);
    if (!m) continue;
    const owner = m[1]!.replace(/\.$/, '');
    // BIND splits the hex into chunks: join them back.
    const [u, sel, mt, ...hex] = m[2]!.trim().split(/\s+/);
    out.set(owner, [...(out.get(owner) ?? []), `${u} ${sel} ${mt} ${hex.join('').toLowerCase()}`]);
  }
  return out;
}

function rootFor(domain: string, chainPem: string, config: Record<string, unknown>, zoneLines: (leafSpki: string) => string[] = () => []) {
  const host = `mail.${domain}`;
  const ca = lookalikeCa('R12', 'rsa');
  const leaf = leafFrom(ca, host, 'rsa');
  const extraZone = zoneLines(spkiOf(leaf.cert));
  const root = makeFakeRoot({
    domains: { [domain]: 'owner1' },
    local: [domain],
    zones: { [domain]: cpanelZone(domain, [`${domain}. IN MX 10 ${host}.`, 'mail IN A 192.0.2.10', ...extraZone]) },
    domainTls: { [host]: combined(leaf, chainPem) },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ ...config, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  return { root, host, leaf };
}

describe("record budget with a Let's Encrypt RSA certificate (issuer R12)", () => {
  it('default budget: 9 records per owner, the served key and R12 among them, no ECDSA pin', () => {
    const { root, host, leaf } = rootFor('le.test', join(ISSUER_FIXTURES, 'r12.pem'), {});
    const applied = cli(['apply', '--yes', '--root', root]);
    expect(applied.status, applied.stderr).toBe(0);
    const records = tlsaByOwner(root, 'le.test');
    expect([...records.keys()].sort()).toEqual([25, 465, 587].map((p) => `_${p}._tcp.${host}`).sort());
    for (const rdatas of records.values()) {
      expect(rdatas.length).toBeLessThanOrEqual(10);
      expect(rdatas).toContain(`3 1 1 ${spkiOf(leaf.cert)}`);
      expect(rdatas).toContain(`2 1 1 ${LE_SPKI.R12}`);
      for (const e of ECDSA) expect(rdatas).not.toContain(`2 1 1 ${LE_SPKI[e]}`);
      expect(rdatas.sort()).toEqual([`3 1 1 ${spkiOf(leaf.cert)}`, ...['R10', 'R11', 'R12', 'R13', 'R14', 'YR1', 'YR2', 'YR3'].map((n) => `2 1 1 ${LE_SPKI[n]}`)].sort());
    }
  });

  it('maxRecordsPerOwner 4: plan (text and JSON) and audit name the issuers not covered', () => {
    const { root, host } = rootFor('small.test', join(ISSUER_FIXTURES, 'r12.pem'), { policy: { maxRecordsPerOwner: 4 } });
    const json = JSON.parse(cli(['plan', '--json', '--root', root]).stdout);
    const zone = json.zones[0];
    expect(zone.changes.filter((c: { record: { owner: string } }) => c.record.owner === `_25._tcp.${host}`)).toHaveLength(3);
    const left = zone.overBudget.filter((o: { record: { owner: string } }) => o.record.owner === `_25._tcp.${host}`).map((o: { record: { data: string } }) => o.record.data);
    expect(left.sort()).toEqual(['R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3'].map((n) => LE_SPKI[n]).sort());
    const warning = zone.warnings.find((w: { code: string }) => w.code === 'issuers-over-budget');
    expect(warning).toMatchObject({ severity: 'info', subject: host });
    for (const n of ['R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']) expect(warning.message).toContain(n);

    const text = cli(['plan', '--root', root]).stdout;
    expect(text).toMatch(new RegExp(`x _25\\._tcp\\.${host.replace(/\./g, '\\.')}\\. 3600 IN TLSA 2 1 1 ${LE_SPKI.YR3}  ; not published, outside the budget of 4`));
    expect(text).toContain('warning: mail.small.test: 6 issuer(s)');

    const audit = JSON.parse(cli(['audit', '--format', 'json', '--root', root]).stdout);
    expect(audit[0].problemCodes).toContain('issuers-over-budget');
    expect(audit[0].problemCodes).not.toContain('issuer-not-covered');
  });

  it('18 records per owner published before the budget shrink to 9 on the next timer run, without --force', async () => {
    const domain = 'over.test';
    const host = `mail.${domain}`;
    const pins = [...Object.values(LE_SPKI), 'ab'.repeat(32)];
    const { root, leaf } = rootFor(domain, join(ISSUER_FIXTURES, 'r12.pem'), { policy: { ttl: 60 } }, (spki) =>
      [25, 465, 587].flatMap((p) => [`_${p}._tcp.${host}. 3600 IN TLSA 3 1 1 ${spki}`, ...pins.map((d) => `_${p}._tcp.${host}. 3600 IN TLSA 2 1 1 ${d}`)]),
    );
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    // Published hours ago by an earlier version of TLSA Manager: the ledger says they are ours.
    const records = [...tlsaByOwner(root, domain)].flatMap(([owner, rdatas]) => rdatas.map((r) => {
      const [u, s, m, data] = r.split(' ');
      return { owner, ttl: 3600, usage: Number(u) as 2 | 3, selector: Number(s) as 1, matchingType: Number(m) as 1, data: data! };
    }));
    expect(records).toHaveLength(54);
    ctx.state().recordApplied(domain, records, [], Date.now() - 5 * HOUR);

    const r = await reconcile(ctx);
    expect(r).toMatchObject({ skipped: false, applied: 27, failed: false });
    const after = tlsaByOwner(root, domain);
    for (const p of [25, 465, 587]) {
      expect(after.get(`_${p}._tcp.${host}`)!.sort()).toEqual([`3 1 1 ${spkiOf(leaf.cert)}`, ...['R10', 'R11', 'R12', 'R13', 'R14', 'YR1', 'YR2', 'YR3'].map((n) => `2 1 1 ${LE_SPKI[n]}`)].sort());
    }
  });

  it('a domain that moves its MX away: the timer retires the old host\'s records without --force', async () => {
    const domain = 'moved.test';
    const { root, host } = rootFor(domain, join(ISSUER_FIXTURES, 'r12.pem'), { policy: { ttl: 60 } });
    let offset = 0;
    const ctx = () => {
      const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
      c.now = () => Date.now() + offset;
      return c;
    };
    expect(await reconcile(ctx())).toMatchObject({ applied: 27, failed: false });
    expect(tlsaByOwner(root, domain).size).toBe(3);
    // The customer points the MX at another provider (a zone edit: no hook fires).
    const file = join(root, 'var/named', `${domain}.db`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(`${domain}. IN MX 10 ${host}.`, `${domain}. IN MX 10 mx.provider.example.`));
    offset = HOUR + 60_000; // the timer's hourly full run at the latest
    const r = await reconcile(ctx());
    expect(r).toMatchObject({ skipped: false, applied: 27, failed: false });
    expect(tlsaByOwner(root, domain).size).toBe(0);
  });

  it('server-wide: every zone losing its host at once (a damaged account list) needs --force; one domain leaving does not', () => {
    const domains = ['one', 'two', 'three', 'four'].map((n) => `${n}.test`);
    const ca = lookalikeCa('R12', 'rsa');
    const root = makeFakeRoot({
      domains: Object.fromEntries(domains.map((d) => [d, 'owner1'])),
      local: domains,
      zones: Object.fromEntries(domains.map((d) => [d, cpanelZone(d, [`${d}. IN MX 10 mail.${d}.`, 'mail IN A 192.0.2.10'])])),
      domainTls: Object.fromEntries(domains.map((d) => [`mail.${d}`, combined(leafFrom(ca, `mail.${d}`, 'rsa'), ca.cert)])),
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { records: ['3 1 1'] }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    expect(cli(['apply', '--yes', '--root', root]).status).toBe(0);
    for (const d of domains) expect(tlsaByOwner(root, d).size).toBe(3); // 4 zones × 3 owners = 12 managed owners

    // The account list comes back empty: each zone alone is below 10 owners, the server is not.
    writeFileSync(join(root, 'etc/userdomains'), '*: nobody\n');
    const plan = JSON.parse(cli(['plan', '--json', '--root', root]).stdout);
    expect(plan.zones.map((z: { blocked: { code: string } | null }) => z.blocked?.code)).toEqual(['safety-limit', 'safety-limit', 'safety-limit', 'safety-limit']);
    expect(plan.zones.flatMap((z: { changes: unknown[] }) => z.changes)).toEqual([]);
    cli(['apply', '--yes', '--root', root]);
    for (const d of domains) expect(tlsaByOwner(root, d).size).toBe(3);

    // One domain of four leaves (3 of 12 owners, 25%): routine, no --force.
    writeFileSync(join(root, 'etc/userdomains'), domains.slice(1).map((d) => `${d}: owner1\n`).join('') + '*: nobody\n');
    const applied = cli(['apply', '--yes', '--root', root]);
    expect(applied.stdout).toContain('zone one.test (cpanel): 3 change(s) applied');
    expect(tlsaByOwner(root, 'one.test').size).toBe(0);
    for (const d of domains.slice(1)) expect(tlsaByOwner(root, d).size).toBe(3);
  });

  it('an owner above the budget whose certificate also changed: surplus pins go first, the new key follows on the very next timer run', async () => {
    const domain = 'full.test';
    const host = `mail.${domain}`;
    const pins = [...Object.values(LE_SPKI), 'cd'.repeat(32)];
    const oldKey = 'ef'.repeat(32); // the key of a certificate no longer served
    const { root, leaf } = rootFor(domain, join(ISSUER_FIXTURES, 'r12.pem'), { policy: { ttl: 60 } }, () =>
      [25, 465, 587].flatMap((p) => [`_${p}._tcp.${host}. 3600 IN TLSA 3 1 1 ${oldKey}`, ...pins.map((d) => `_${p}._tcp.${host}. 3600 IN TLSA 2 1 1 ${d}`)]),
    );
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    const records = [...tlsaByOwner(root, domain)].flatMap(([owner, rdatas]) => rdatas.map((r) => {
      const [u, s, m, data] = r.split(' ');
      return { owner, ttl: 3600, usage: Number(u) as 2 | 3, selector: Number(s) as 1, matchingType: Number(m) as 1, data: data! };
    }));
    ctx.state().recordApplied(domain, records, [], Date.now() - 5 * HOUR);

    const first = await reconcile(ctx);
    expect(first.failed).toBe(false);
    const afterFirst = tlsaByOwner(root, domain).get(`_25._tcp.${host}`)!;
    expect(afterFirst).toHaveLength(9); // 18 - 9 surplus pins: the old key stays until its successor is published
    expect(afterFirst).toContain(`3 1 1 ${oldKey}`);
    expect(afterFirst).not.toContain(`3 1 1 ${spkiOf(leaf.cert)}`);

    // Nothing changed on disk, but room was made for a deferred record: the timer runs again at once.
    const second = await reconcile(ctx);
    expect(second.skipped).toBe(false);
    const afterSecond = tlsaByOwner(root, domain).get(`_25._tcp.${host}`)!;
    expect(afterSecond).toHaveLength(10);
    expect(afterSecond).toContain(`3 1 1 ${spkiOf(leaf.cert)}`);
  });
});
