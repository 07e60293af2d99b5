import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnssecCommand } from '../../src/cli/dnssec-command.js';
import type { AppContext } from '../../src/context.js';
import { dsLine } from '../../src/dnssec/keys.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { testContext } from '../helpers/context.js';
import { startPowerDns, type PowerDns } from '../helpers/powerdns.js';
import { dig } from '../lab/dns.js';
import { startLab, type Lab } from '../lab/lab.js';
import { mustRun } from '../lab/proc.js';

/**
 * Issue 25 §3 on the lab: a real pdns_server is the authority of pdns.lab.test (the signed lab
 * parent delegates to it, unbound asks it). TLSA Manager publishes through the PowerDNS API,
 * `dnssec enable` signs the zone through the cryptokeys API and `dnssec ds` gives the DS that
 * dnssec-dsfromkey computes from the DNSKEY pdns serves; with that DS at the parent the answers
 * validate, and posttls-finger verifies Exim through the lab resolver. Records we did not create
 * at our owners survive byte for byte; a re-run sends no PATCH.
 */

let pdns: PowerDns;
let lab: Lab;

beforeAll(async () => {
  pdns = await startPowerDns({ soaNameserver: 'ns.lab.test.' });
  lab = await startLab({ defaultZones: false, zones: [{ name: 'pdns', signed: false, ds: false, authority: { address: pdns.address, port: pdns.dnsPort } }], prefetchPosttlsFinger: true });
}, 120_000);
afterAll(async () => {
  await lab?.stop();
  await pdns?.stop();
});

function context(zone: string): AppContext {
  const root = lab.cpanelRoot;
  writeFileSync(join(root, 'etc/userdomains'), `${zone}: user1\n`);
  writeFileSync(join(root, 'etc/localdomains'), `${zone}\n`);
  return testContext(
    {
      policy: { ttl: 60 },
      resolver: lab.resolver,
      resolverProbeName: lab.parent,
      dnssec: { servers: { [lab.parent]: [lab.authoritative] } },
      providers: { pdns: { kind: 'powerdns', url: pdns.url, apiKey: pdns.apiKey } },
      zones: { [zone]: { provider: 'pdns' } },
    },
    root,
  );
}

async function publish(ctx: AppContext, domains: string[]) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, { domains });
  return applyPlan(ctx, providers, plan, 'test');
}

async function cli(ctx: AppContext, ...args: string[]) {
  return dnssecCommand.run({ ctx, values: { yes: true, json: true }, args, stdin: () => '' });
}

describe('publishing through the PowerDNS API, signing through its cryptokeys', () => {
  it('publish → dnssec enable → dnssec ds (= dnssec-dsfromkey) → DS at the parent → posttls-finger verifies; foreign records untouched; a re-run sends nothing', async () => {
    const zone = `pdns.${lab.parent}`;
    const host = `mail.${zone}`;
    const foreign = [
      { name: `_25._tcp.${host}.`, type: 'TXT', ttl: 60, records: [{ content: '"hand-made note at a TLSA owner"' }], comments: [{ account: 'ops', content: 'keep me' }] },
      { name: `_smtp._tls.${zone}.`, type: 'TXT', ttl: 60, records: [{ content: '"not a report policy"' }] },
    ];
    await pdns.createZone(zone, [
      { name: `${zone}.`, type: 'MX', ttl: 60, records: [{ content: `10 ${host}.` }] },
      { name: `${host}.`, type: 'A', ttl: 60, records: [{ content: lab.exim }] },
      ...foreign,
    ]);
    const ctx = context(zone);
    const cert = await lab.issueCert({ names: [host], issuer: 'R1' });
    lab.installCert(host, cert.combinedPem);
    const foreignNow = async () => JSON.stringify((await pdns.rrsets(zone)).filter((s) => foreign.some((f) => f.name === s.name && f.type === s.type)));
    const foreignBefore = await foreignNow();

    const [result] = await publish(ctx, [zone]);
    expect(result?.problem, result?.problem?.message).toBeUndefined();
    expect(result!.provider).toBe('powerdns');
    expect(result!.applied).toHaveLength(6);
    // dig straight at pdns: 3 1 1 of the leaf and 2 1 1 of R1 on every port (openssl-computed).
    for (const port of [25, 465, 587]) {
      const a = await dig(pdns.address, `_${port}._tcp.${host}`, 'TLSA', ['+norec', '+nosplit'], pdns.dnsPort);
      const rdata = a.answers.filter((l) => /\sTLSA\s/.test(l)).map((l) => l.split(/\s+/).slice(4).join(' ').toLowerCase()).sort();
      expect(rdata).toEqual([`2 1 1 ${lab.ca.intermediates.R1.spkiSha256}`, `3 1 1 ${cert.spkiSha256}`].sort());
    }
    expect(await foreignNow()).toBe(foreignBefore);

    // dnssec enable, through the CLI command: the signer is the pdns instance.
    const en = await cli(ctx, 'enable', zone);
    expect(en.exitCode, en.output).toBe(0);
    const [row] = JSON.parse(en.output!);
    expect(row).toMatchObject({ zone, ok: true, signer: 'pdns', signing: 'active' });
    // dnssec ds: the DS the API gives equals dnssec-dsfromkey of the DNSKEY pdns serves.
    const dsOut = await cli(ctx, 'ds', zone);
    expect(dsOut.exitCode, dsOut.output).toBe(0);
    const handover = JSON.parse(dsOut.output!) as { ds: { keyTag: number; algorithm: number; digestType: number; digest: string }[] };
    const served = await dig(pdns.address, zone, 'DNSKEY', ['+norec', '+nodnssec'], pdns.dnsPort);
    const fromKey = (await mustRun(['dnssec-dsfromkey', '-2', '-f', '-', zone], { input: `${served.answers.filter((l) => /\sDNSKEY\s/.test(l)).join('\n')}\n` })).trim();
    expect(handover.ds.map((d) => `${zone}. IN DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toUpperCase()}`)).toEqual([fromKey]);
    expect(row.ds.map((d: (typeof handover.ds)[number]) => d.digest)).toEqual(handover.ds.map((d) => d.digest));

    // The lab as registrar: the DS goes to the parent; the resolver now validates the answers.
    await lab.setParentDs(zone, [dsLine(zone, handover.ds[0]!)]);
    await lab.flushResolver();
    const tlsa = await lab.dig(`_25._tcp.${host}`, 'TLSA');
    expect(tlsa.status).toBe('NOERROR');
    expect(tlsa.flags).toContain('ad');
    // Denials validate too (NSEC from the rectified zone): a name that does not exist, a type that does not.
    const nx = await lab.dig(`nothing-here.${zone}`, 'A');
    expect([nx.status, nx.flags.includes('ad')]).toEqual(['NXDOMAIN', true]);
    const nodata = await lab.dig(`_25._tcp.${host}`, 'AAAA');
    expect([nodata.status, nodata.answers.filter((l) => /\sAAAA\s/.test(l)), nodata.flags.includes('ad')]).toEqual(['NOERROR', [], true]);
    for (const port of [25, 465] as const) {
      const f = await lab.posttlsFinger(zone, { port });
      expect(f.verified, f.output).toBe(true);
    }

    // A re-run: nothing to change, no PATCH (pdns's serial does not move); foreign records as they were.
    const serial = async () => (await dig(pdns.address, zone, 'SOA', ['+norec', '+nodnssec'], pdns.dnsPort)).answers.find((l) => /\sSOA\s/.test(l))!.split(/\s+/)[6];
    const before = await serial();
    expect(await publish(ctx, [zone])).toEqual([]);
    expect(await serial()).toBe(before);
    expect(await foreignNow()).toBe(foreignBefore);
  }, 120_000);
});
