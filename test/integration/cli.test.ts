import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { createContext, createLogger } from '../../src/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { planJson } from '../../src/cli/plan-commands.js';
import { json } from '../../src/cli/types.js';
import { MtaStsStore } from '../../src/mtasts/store.js';
import { startFakeDns, zoneHandler } from '../fakes/dns-server.js';

const CLI = join(process.cwd(), 'dist/cli.js');

function cli(args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

describe('tlsa-manager tlsa', () => {
  it('prints zone-file lines and JSON that match openssl, for a cPanel combined file, without the key', () => {
    const leaf = pki.leaf('mail.cli.test', { keyType: 'rsa2048' });
    const lines = cli(['tlsa', '--cert', leaf.combined, '--port', '25', '--port', '587']);
    expect(lines.status).toBe(0);
    const spki = opensslTlsaData(leaf.cert, 1, 1);
    expect(lines.stdout.trim().split('\n')).toEqual([`_25._tcp.mail.cli.test. 3600 IN TLSA 3 1 1 ${spki}`, `_587._tcp.mail.cli.test. 3600 IN TLSA 3 1 1 ${spki}`]);
    const key = readFileSync(leaf.key, 'utf8').split('\n')[1]!;
    expect(lines.stdout + lines.stderr).not.toContain(key);

    const json = JSON.parse(cli(['tlsa', '--cert', leaf.combined, '--usage', '2', '--selector', '0', '--matching', '2', '--host', 'MX.Other.Test', '--json']).stdout);
    expect(json).toEqual([{ owner: '_25._tcp.mx.other.test', port: 25, usage: 2, selector: 0, matchingType: 2, data: opensslTlsaData(pki.interCert, 0, 2) }]);
  });

  it('explains bad input in one line naming the file or option, exit 2, no stack trace', () => {
    const bad = join(pki.dir, 'garbage.pem');
    writeFileSync(bad, 'hello');
    const r = cli(['tlsa', '--cert', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${bad}: no certificate found`);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(cli(['tlsa', '--cert', join(pki.dir, 'missing.pem')]).stderr).toMatch(/missing\.pem: does not exist/);
    const hostile = cli(['tlsa', '--cert', pki.leaf('h.test').cert, '--host', 'a\nb;rm -rf /']);
    expect(hostile.status).toBe(2);
    expect(hostile.stderr).toContain('--host: "a\\x0ab;rm -rf /" is not a valid domain name');
    expect(cli(['tlsa', '--cert', bad, '--usage', '7']).stderr).toContain('--usage must be 0-3');
    expect(cli(['nonsense']).status).toBe(2);
    // Options belong to their command: one another command takes is a usage error, not ignored.
    const takeover = cli(['scan', '--takeover', 'x.test']);
    expect(takeover.status).toBe(2);
    expect(takeover.stderr).toMatch(/^tlsa-manager: scan: Unknown option '--takeover'/);
    expect(cli(['tlsa', '--cert', bad, '--all']).status).toBe(2);
  });

  it('refuses an invalid config with the file and key at fault', () => {
    const root = makeFakeRoot({ domains: {}, files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { ttl: 5, records: ['9 9 9'] } }) } });
    const r = cli(['scan', '--root', root]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('config.json: policy.records.0: must look like "3 1 1"');
    expect(r.stderr).toContain('policy.ttl');
  });

  it('refuses a record budget outside 2-12 with a precise message', () => {
    for (const bad of [1, 13, 9.5, '10']) {
      const root = makeFakeRoot({ domains: {}, files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { maxRecordsPerOwner: bad } }) } });
      const r = cli(['scan', '--root', root]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('config.json: policy.maxRecordsPerOwner: must be a whole number from 2 to 12');
    }
    const ok = makeFakeRoot({ domains: {}, files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { maxRecordsPerOwner: 12, minRecordsForDeleteLimit: 0 } }) } });
    expect(cli(['scan', '--root', ok]).status).toBe(0);
  });
});

describe('check: usage mistakes are usage Problems', () => {
  it('exit 2 with one line and the fix; in Nagios mode the same words on one UNKNOWN line (exit 3)', () => {
    const root = makeFakeRoot({ domains: {} });
    const stray = cli(['check', 'a.test', '--warning', '2', '--root', root]);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toBe('tlsa-manager: --warning is a Nagios threshold: it goes with --nagios (Add --nagios, or leave --warning out.)\n');
    const none = cli(['check', '--root', root]);
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('tlsa-manager: check needs one or more domains, or --all (Call it as: check DOMAIN... | --all)\n');
    const empty = cli(['check', '--all', '--root', root]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^tlsa-manager: check --all found no customer domains in \/etc\/userdomains\. \(Add an account/);
    const order = cli(['check', '--nagios', 'a.test', '--warning', '3', '--critical', '2', '--root', root]);
    expect(order).toMatchObject({ status: 3, stdout: 'TLSA_MANAGER UNKNOWN - --critical (2) must not be below --warning (3)\n' });
    const nagiosNone = cli(['check', '--nagios', '--root', root]);
    expect(nagiosNone).toMatchObject({ status: 3, stdout: 'TLSA_MANAGER UNKNOWN - check needs one or more domains, or --all\n' });
  });
});

describe('scan, plan, apply, audit on a fake root (WHM API stub absent: zone-file mode)', () => {
  it('plans, applies once, then is in sync; audit exports CSV', () => {
    const leaf = pki.leaf('mail.flow.test');
    const root = makeFakeRoot({
      domains: { 'flow.test': 'flo' },
      local: ['flow.test'],
      zones: { 'flow.test': cpanelZone('flow.test', ['flow.test. IN MX 10 mail.flow.test.', 'mail IN A 192.0.2.10']) },
      domainTls: { 'mail.flow.test': readFileSync(leaf.combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    const plan = JSON.parse(cli(['plan', '--json', '--root', root]).stdout);
    expect(plan.zones[0].changes).toHaveLength(6);
    expect(cli(['apply', '--root', root]).stderr).toContain('add --yes');
    const applied = cli(['apply', '--yes', '--root', root]);
    expect(applied.stdout).toContain('zone flow.test (cpanel): 6 change(s) applied');
    expect(readFileSync(join(root, 'var/named/flow.test.db'), 'utf8')).toMatch(new RegExp(`^_25\\._tcp\\.mail\\.flow\\.test\\.\\s+3600\\s+IN\\s+TLSA\\s+3 1 1 ${opensslTlsaData(leaf.cert, 1, 1)}$`, 'm'));
    expect(cli(['apply', '--yes', '--root', root]).stdout).toContain('Everything is in sync');
    const csv = cli(['audit', '--format', 'csv', '--root', root]).stdout.split('\r\n');
    expect(csv[0]).toMatch(/^domain,owner,kind,mail,mxHosts,/);
    expect(csv[1]).toMatch(/^flow\.test,flo,/);
    expect(csv[1]).toContain(',in-sync,');
    // No MTA-STS state kept: off; once src/mtasts/store.ts holds a mode, the export says it.
    expect(csv[0]!.split(',').at(-1)).toBe('mtaSts');
    expect(csv[1]!.split(',').at(-1)).toBe('off');
    const st = createContext({ root, logger: createLogger({ level: 'silent' }) }).state();
    new MtaStsStore(st.db).ensure('flow.test', 'enforce', '2026-12-01T00:00:00.000Z');
    st.close();
    expect(cli(['audit', '--format', 'csv', '--root', root]).stdout.split('\r\n')[1]!.split(',').at(-1)).toBe('enforce');
    expect(JSON.parse(cli(['audit', '--format', 'json', '--root', root]).stdout)[0].mtaSts).toBe('enforce');
    expect(cli(['audit', '--root', root]).stdout).toMatch(/^MTA-STS|\bMTA-STS\b/m);
  });
});

describe('a plan made only to be shown (issue 10 §7)', () => {
  it('is the same plan, keeps no sightings for the ledger, and cannot be applied', async () => {
    const leaf = pki.leaf('mail.show.test');
    const root = makeFakeRoot({
      domains: { 'show.test': 'sho' },
      local: ['show.test'],
      zones: { 'show.test': cpanelZone('show.test', ['show.test. IN MX 10 mail.show.test.', 'mail IN A 192.0.2.10']) },
      domainTls: { 'mail.show.test': readFileSync(leaf.combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    expect(cli(['apply', '--yes', '--root', root]).stdout).toContain('6 change(s) applied');
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    const full = await makePlan(ctx, new Providers(ctx), {});
    const shown = await makePlan(ctx, new Providers(ctx), { showOnly: true });
    expect(planJson(shown)).toEqual(planJson(full));
    expect([...full.inputs.seen.keys()]).toEqual(['show.test']);
    expect(shown.inputs.seen.size).toBe(0);
    await expect(applyPlan(ctx, new Providers(ctx), shown, 'test')).rejects.toThrow(/only to be shown/);
  });
});

describe('plan --json is streamed zone by zone (issue 10 §7)', () => {
  it('prints the same bytes as the whole-object form, on a root with several zones, a refusal and an unmanaged host', async () => {
    const a = pki.leaf('mail.one.test');
    const b = pki.leaf('two.test');
    const root = makeFakeRoot({
      domains: { 'one.test': 'one', 'two.test': 'two', 'three.test': 'three' },
      local: ['one.test', 'two.test', 'three.test'],
      zones: {
        'one.test': cpanelZone('one.test', ['one.test. IN MX 10 mail.one.test.', 'mail IN A 192.0.2.10', '_25._tcp.mail IN TLSA 3 1 1 ' + 'ab'.repeat(32)]),
        'two.test': cpanelZone('two.test', ['two.test. IN MX 0 two.test.']),
        'three.test': cpanelZone('three.test', ['three.test. IN MX 0 two.test.', '$INCLUDE /etc/passwd']),
      },
      domainTls: { 'mail.one.test': readFileSync(a.combined, 'utf8'), 'two.test': readFileSync(b.combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    const streamed = cli(['plan', '--json', '--root', root]);
    expect(streamed.status).toBe(0);
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    const whole = json(planJson(await makePlan(ctx, new Providers(ctx), {}))) + '\n';
    const parsed = JSON.parse(streamed.stdout);
    expect(parsed.zones.map((z: { zone: string }) => z.zone).sort()).toEqual(['one.test', 'two.test']);
    expect(parsed.zones.flatMap((z: { changes: unknown[] }) => z.changes).length).toBeGreaterThan(6);
    expect(parsed).toEqual(JSON.parse(whole));
    expect(streamed.stdout).toBe(whole);
  });
});

describe('mta-sts mode refuses a domain MTA-STS does not cover', () => {
  it('names why, exits 2 and changes nothing; a covered domain gets its mode', async () => {
    const dns = await startFakeDns(zoneHandler([]));
    try {
      const root = makeFakeRoot({
        domains: { 'in.test': 'inu', 'out.test': 'outu', 'off.test': 'offu' },
        local: ['in.test', 'off.test'],
        remote: ['out.test'],
        zones: {
          'in.test': cpanelZone('in.test', ['in.test. IN MX 10 mail.in.test.', 'mail IN A 192.0.2.10']),
          'out.test': cpanelZone('out.test', ['out.test. IN MX 10 mx.mail-elsewhere.test.']),
          'off.test': cpanelZone('off.test', ['off.test. IN MX 10 mail.off.test.', 'mail IN A 192.0.2.10']),
        },
        files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, mtaSts: { publish: ['in.test', 'out.test', 'nowhere.test'] } }) },
      });
      const refusals: [string, string][] = [
        ['nowhere.test', 'nowhere.test is not a domain on this server.'],
        ['off.test', 'MTA-STS is not published for off.test, so it has no mode to change.'],
        ['out.test', 'out.test gets no MTA-STS policy (its mail is not handled on this server, or it has no MX record), so it has no mode to change.'],
      ];
      for (const [domain, why] of refusals) {
        const r = cli(['mta-sts', 'mode', domain, 'enforce', '--root', root]);
        expect(r.status, domain).toBe(2);
        expect(r.stderr, domain).toContain(why);
        expect(r.stdout, domain).toBe('');
      }
      const st = () => createContext({ root, logger: createLogger({ level: 'silent' }) }).state();
      const s1 = st();
      expect([...new MtaStsStore(s1.db).all().keys()]).toEqual([]);
      expect(s1.activity({ kind: 'mta-sts' })).toEqual([]);
      s1.close();
      const ok = cli(['mta-sts', 'mode', 'in.test', 'enforce', '--root', root]);
      expect(ok).toMatchObject({ status: 0, stdout: 'in.test: mode enforce; run "tlsa-manager apply" to serve and announce it\n' });
      const s2 = st();
      expect([...new MtaStsStore(s2.db).all().values()].map((s) => `${s.domain} ${s.mode}`)).toEqual(['in.test enforce']);
      s2.close();
    } finally {
      await dns.close();
    }
  });
});
