import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { Providers } from '../../src/provider-instances.js';
import { testContext } from '../helpers/context.js';
import { dig } from '../lab/dns.js';
import { startLab, type Lab } from '../lab/lab.js';
import { run } from '../lab/proc.js';
import { newKey, startKnot, type UpdateServer } from '../lab/update-servers.js';

/**
 * Issue 25 §2 on the lab with Knot DNS as the hidden primary: knotd signs knot.lab.test itself
 * (dnssec-signing), the signed lab parent delegates to it with the DS dnssec-dsfromkey computes
 * from the DNSKEY Knot serves, and unbound validates. TLSA Manager publishes through TSIG-signed
 * RFC 2136 updates; the validating resolver (AD) and posttls-finger are the judges; records we
 * did not create at our owners are served byte for byte as before; a re-run sends no update.
 */
const key = newKey('tlsa-manager', 'hmac-sha256');
const ZONE = 'knot.lab.test';
let knot: UpdateServer;
let lab: Lab;

function nsupdate(lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('nsupdate', ['-v', '-t', '5', '-y', `${key.algorithm}:${key.name}:${key.secret}`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nsupdate failed: ${err}`))));
    c.stdin.end(`server ${knot.host} ${knot.port}\nzone ${ZONE}\n${lines.map((l) => `update add ${l}`).join('\n')}\nsend\n`);
  });
}

beforeAll(async () => {
  knot = await startKnot({ key, zones: [{ name: ZONE, records: [`_25._tcp.mail.${ZONE}.\t300\tIN\tTXT\t"foreign text at our owner"`, `_smtp._tls.${ZONE}.\t300\tIN\tTXT\t"not a report policy"`], inlineSigned: true }] });
  lab = await startLab({ defaultZones: false, zones: [{ name: 'knot', signed: false, ds: false, authority: { address: knot.host, port: knot.port } }], prefetchPosttlsFinger: true });
  // The MX host points at the lab's Exim (known only now), added the way an admin would.
  await nsupdate([`${ZONE}. 300 MX 10 mail.${ZONE}.`, `mail.${ZONE}. 300 A ${lab.exim}`]);
  // The lab as registrar: the DS of the key Knot signs with.
  const dnskeys = (await dig(knot.host, ZONE, 'DNSKEY', ['+norec', '+noall', '+answer', '+nodnssec'], knot.port)).raw;
  const ds = (await run(['dnssec-dsfromkey', '-2', '-f', '-', ZONE], { input: dnskeys })).stdout.trim().split('\n').filter((l) => /\sDS\s/.test(l));
  expect(ds.length).toBeGreaterThan(0);
  await lab.setParentDs(ZONE, ds);
  await lab.flushResolver();
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  await knot?.stop();
});

function context(): AppContext {
  const root = lab.cpanelRoot;
  writeFileSync(join(root, 'etc/userdomains'), `${ZONE}: user1\n`);
  return testContext(
    {
      policy: { ttl: 60 },
      resolver: lab.resolver,
      providers: { knot: { kind: 'rfc2136', server: knot.server, tsig: key } },
      zones: { [ZONE]: { provider: 'knot' } },
      tlsrpt: { publish: 'all', address: `tlsrpt@${lab.hostname}` },
    },
    root,
  );
}

async function publish(ctx: AppContext) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, { domains: [ZONE] });
  return applyPlan(ctx, providers, plan, 'test');
}

const at = async (name: string, type: string) => (await dig(knot.host, name, type, ['+norec', '+nodnssec'], knot.port)).answers.sort();

describe('rfc2136 provider with Knot DNS as the lab authority', () => {
  it('publishes through signed updates: validated (AD), verified by posttls-finger, foreign records unchanged, a re-run sends nothing', async () => {
    const host = `mail.${ZONE}`;
    expect((await lab.dig(ZONE, 'SOA')).flags).toContain('ad');
    const cert = await lab.issueCert({ names: [host], issuer: 'R1' });
    lab.installCert(host, cert.combinedPem);
    const ctx = context();
    const foreignOwner = await at(`_25._tcp.${host}`, 'TXT');
    const policyBefore = await at(`_smtp._tls.${ZONE}`, 'TXT');

    const [result] = await publish(ctx);
    expect(result!.problem).toBeUndefined();
    expect(result!.applied).toHaveLength(7);
    // Knot signs in place: the SOA it serves is the one its prerequisites are checked against.
    expect(result!.details).toMatchObject({ prerequisite: 'soa+rrsets', attempts: 1 });
    expect(await at(`_25._tcp.${host}`, 'TXT')).toEqual(foreignOwner);
    expect(await at(`_smtp._tls.${ZONE}`, 'TXT')).toEqual([...policyBefore, `_smtp._tls.${ZONE}. 300\tIN\tTXT\t"v=TLSRPTv1; rua=mailto:tlsrpt@${lab.hostname}"`].sort());

    await lab.flushResolver();
    const tlsa = await lab.dig(`_25._tcp.${host}`, 'TLSA');
    expect(tlsa.flags).toContain('ad');
    expect(tlsa.answers.join('').toLowerCase().replace(/\s+/g, '')).toContain(cert.spkiSha256);
    expect((await lab.posttlsFinger(ZONE, { port: 25 })).verified).toBe(true);

    const soa = await at(ZONE, 'SOA');
    expect(await publish(ctx)).toEqual([]);
    expect(await at(ZONE, 'SOA')).toEqual(soa);
  });
});
