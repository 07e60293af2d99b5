import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { GID, mtaStsContext, mtaStsEnv, UID, type MtaStsEnv } from '../lab/mta-sts-env.js';
import { mtaStsQuery, posttlsSecure } from '../lab/mta-sts-query.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { afterMtaStsApply, serveThenPlan } from '../../src/mtasts/run.js';
import { serveAll } from '../../src/mtasts/serve.js';
import { createSubdomain } from '../../src/mtasts/subdomain.js';
import { mtaStsStatus, type StsStatus } from '../../src/mtasts/status.js';
import { mtaStsStore } from '../../src/mtasts/store.js';
import { mtaStsChecks } from '../../src/mtasts/checks-store.js';
import { mtaStsCommand } from '../../src/cli/mtasts-command.js';
import { parseResolver } from '../../src/resolver/stub-client.js';
import type { AppContext } from '../../src/context.js';

/**
 * Issue 27 §7: the policy TLSA Manager writes, served by a real Apache with a lab-CA
 * certificate, judged by Debian's mta-sts-query (postfix-mta-sts-resolver) with its DNS going
 * only to the lab resolver and trusting only the lab CA; the MX certificates judged by
 * posttls-finger at its PKIX `secure` level. For each case `mta-sts status` must agree.
 */
let env: MtaStsEnv;
const lab = useLab({ zones: [{ name: 'sts', signed: true, ds: true }] });
const context = mtaStsContext;

/** One run as apply does it: serve (write, fetch back), then plan and publish. */
async function run(ctx: AppContext) {
  const providers = new Providers(ctx);
  const { plan } = await serveThenPlan(ctx, providers, await makePlan(ctx, providers), {}, 'test');
  const results = await applyPlan(ctx, providers, plan, 'test');
  for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
  await env.l.flushResolver();
  return plan;
}

/** A run as apply does it, with the steps of turning off that follow the apply. */
async function runAll(ctx: AppContext) {
  const providers = new Providers(ctx);
  const { plan } = await serveThenPlan(ctx, providers, await makePlan(ctx, providers), {}, 'test');
  const results = await applyPlan(ctx, providers, plan, 'test');
  for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
  expect(await afterMtaStsApply(ctx, plan, results, 'test')).toEqual([]);
  await env.l.flushResolver();
  return plan;
}

/** The zone file as named-compilezone -i local reads it (one record a line, names absolute). */
function compiled(zone: string): string {
  return execFileSync('named-compilezone', ['-q', '-i', 'local', '-s', 'full', '-o', '-', zone, env.l.zoneFile(zone)], { encoding: 'utf8' });
}

async function status(ctx: AppContext): Promise<StsStatus> {
  await env.l.flushResolver();
  return mtaStsStatus(env.zone, { resolver: parseResolver(env.l.resolver), ca: env.l.ca.root.certPem, stored: mtaStsStore(ctx).get(env.zone), timeoutMs: 8000 });
}

const judge = (knownId?: string) => mtaStsQuery({ resolvConf: env.l.resolvConf, caFile: env.caFile, domain: env.zone, ...(knownId ? { knownId } : {}) });
const mxJudge = () => posttlsSecure({ postfixDir: env.postfixDir, confDir: env.pfConf, resolvConf: env.l.resolvConf, host: env.mx, caFile: env.caFile });
const codes = (s: StsStatus) => s.problems.map((p) => p.code).sort();

describe('MTA-STS in the lab (real Apache, mta-sts-query, posttls-finger secure)', () => {
  beforeAll(async () => {
    env = await mtaStsEnv(lab(), 'sts');
  }, 120_000);
  afterAll(async () => {
    await env?.apache.stop();
  });

  it('good: subdomain created through WHM API 1, policy written as the owner, fetched back, then its id published; judges agree', async () => {
    const ctx = context(env, { publish: 'all' });
    // Nothing is announced before the policy is served.
    const before = await makePlan(ctx, new Providers(ctx), { showOnly: true });
    expect(before.problems.map((p) => p.code)).toContain('mta-sts-not-served');
    expect(before.zones.flatMap((z) => z.changes).filter((c) => c.record.owner.startsWith('_mta-sts.'))).toEqual([]);

    expect(await createSubdomain(ctx, env.zone, new Set([env.zone]), 'test')).toBeNull();
    // The address record cPanel's create_subdomain adds for the name (Cpanel/Sub.pm lines 338-348): the lab Apache.
    await env.l.setRecords(env.zone, [`mta-sts.${env.zone}. 60 IN A ${env.web}`]);
    // Now the name is used: a second creation is refused, never taken over.
    expect((await createSubdomain(ctx, env.zone, new Set([env.zone]), 'test'))?.code).toBe('mta-sts-name-taken');
    const plan = await run(ctx);
    const wanted = plan.mtaStsPolicies.find((p) => p.domain === env.zone)!;
    expect(wanted.text).toBe(`version: STSv1\r\nmode: testing\r\nmx: ${env.mx}\r\nmax_age: 86400\r\n`);

    const s = await status(ctx);
    expect(codes(s), JSON.stringify(s.problems)).toEqual([]);
    expect(s).toMatchObject({ state: 'testing', id: wanted.id, served: true, policy: { mode: 'testing', mx: [env.mx], maxAge: 86400 } });
    expect(s.mx).toEqual([expect.objectContaining({ host: env.mx, covered: true, certificateValid: true })]);

    const j = await judge();
    expect(j.result, j.output).toBe('VALID');
    expect({ id: j.id, mode: j.mode, mx: j.mx, maxAge: j.maxAge }).toEqual({ id: s.id, mode: s.policy!.mode, mx: s.policy!.mx, maxAge: s.policy!.maxAge });
    const f = await mxJudge();
    expect(f.verified, f.output).toBe(true);
    // `mta-sts status` is a real check: its result is recorded beside the timer's.
    await env.l.flushResolver();
    const cli = await mtaStsCommand.run({ ctx, values: { json: true }, args: ['status', env.zone], stdin: () => '' });
    expect(cli.exitCode).toBe(0);
    expect(mtaStsChecks(ctx).latest(env.zone)).toMatchObject({ state: 'testing', id: wanted.id, served: true, problems: [] });
    // Written as the account owner, readable by the web server.
    const st = statSync(join(env.docroot, '.well-known/mta-sts.txt'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([UID, GID, 0o644]);
  });

  it('policy not served: both judges see no policy', async () => {
    const ctx = context(env, { publish: 'all' });
    const file = join(env.docroot, '.well-known/mta-sts.txt');
    renameSync(file, `${file}.away`);
    try {
      const s = await status(ctx);
      expect(codes(s)).toEqual(['mta-sts-policy-unreachable']);
      expect(s).toMatchObject({ state: 'none', served: false });
      expect((await judge()).result).toBe('FETCH_ERROR');
    } finally {
      renameSync(`${file}.away`, file);
    }
  });

  it('wrong MX pattern: the MX host is not covered, by the judge\'s policy as by ours', async () => {
    const ctx = context(env, { publish: 'all' });
    const file = join(env.docroot, '.well-known/mta-sts.txt');
    const good = (await status(ctx)).policy!;
    writeFileSync(file, `version: STSv1\r\nmode: testing\r\nmx: other.${env.zone}\r\nmax_age: 86400\r\n`);
    const s = await status(ctx);
    expect(codes(s)).toEqual(['mta-sts-id-stale', 'mta-sts-mx-not-covered']);
    const j = await judge();
    expect(j.result).toBe('VALID');
    expect(j.mx).toEqual(s.policy!.mx);
    expect(j.mx).not.toContain(env.mx);
    // The next run puts the right policy back before anything else.
    await run(ctx);
    expect((await status(ctx)).policy).toEqual(good);
  });

  it('id stale, then rolled out in order: enforce is served first (old id still announced), then its id is published', async () => {
    const ctx = context(env, { publish: 'all' });
    const old = (await status(ctx)).id!;
    mtaStsStore(ctx).setMode(env.zone, 'enforce', new Date().toISOString());
    // The serve step alone: the new policy is served, the record still names the old id.
    const plan = await makePlan(ctx, new Providers(ctx));
    await serveAll(ctx, plan.mtaStsPolicies, plan.scan.domains, 'test');
    const mid = await status(ctx);
    expect(mid.id).toBe(old);
    expect(codes(mid)).toEqual(['mta-sts-id-stale']);
    // A sender holding the old id does not fetch again (the judge, told the id it knows).
    expect((await judge(old)).result).toBe('NOT_CHANGED');
    await run(ctx);
    const s = await status(ctx);
    expect(codes(s), JSON.stringify(s.problems)).toEqual([]);
    expect(s.state).toBe('enforce');
    expect(s.id).not.toBe(old);
    const j = await judge(old);
    expect(j.result).toBe('VALID');
    expect({ id: j.id, mode: j.mode, maxAge: j.maxAge }).toEqual({ id: s.id, mode: 'enforce', maxAge: 1209600 });
  });

  it('self-signed MX certificate under enforce: broken, and posttls-finger secure refuses it', async () => {
    const ctx = context(env, { publish: 'all' });
    const self = await env.l.issueSelfSigned({ names: [env.mx] });
    env.l.installCert(env.mx, self.combinedPem);
    const s = await status(ctx);
    expect(s.state).toBe('broken');
    expect(codes(s)).toEqual(['mta-sts-mx-certificate-invalid']);
    expect((await mxJudge()).verified).toBe(false);
  });

  it('turned off: mode none announced first, then after the held max_age exactly our record, file and subdomain go; the customer\'s stay', async () => {
    const ctx = context(env, { publish: 'all' });
    const before = await status(ctx);
    expect(before.policy?.mode).toBe('enforce');
    // The customer's own: an MTA-STS record at a neighbouring name, a file beside ours in .well-known, a page in public_html.
    const customerTxt = `_mta-sts.shop.${env.zone}.`;
    await env.l.setRecords(env.zone, [`mta-sts.${env.zone}. 60 IN A ${env.web}`, `${customerTxt} 60 IN TXT "v=STSv1; id=customer1;"`]);
    const theirs = [join(env.docroot, '.well-known/security.txt'), join(env.home, 'public_html/index.html')];
    for (const f of theirs) writeFileSync(f, 'the customer\'s\n');
    const ourFile = join(env.docroot, '.well-known/mta-sts.txt');

    // Turned off: the first run serves mode none with a new id and announces it.
    let offset = 0;
    const off = () => {
      const c = context(env, { publish: 'off' });
      c.now = () => Date.now() + offset;
      return c;
    };
    await runAll(off());
    const none = await status(off());
    expect(none).toMatchObject({ served: true, policy: { mode: 'none', mx: before.policy!.mx, maxAge: 86400 } });
    expect(none.id).not.toBe(before.id);
    const j = await judge(before.id!);
    expect(j.result, j.output).toBe('VALID');
    expect({ id: j.id, mode: j.mode }).toEqual({ id: none.id, mode: 'none' });
    const st = mtaStsStore(off()).get(env.zone)!;
    expect(st.retiring?.heldMaxAge).toBe(1209600);
    // Before the enforce policy senders hold has expired, nothing goes.
    offset = 1209600_000 - 3_600_000;
    await runAll(off());
    expect((await env.l.digAuthoritative(`_mta-sts.${env.zone}`, 'TXT')).answers.join(' ')).toContain(`id=${none.id}`);
    expect(statSync(ourFile).isFile()).toBe(true);

    // After it: the record first, then our file and the subdomain we created; the state is forgotten.
    offset = 1209600_000 + 60_000;
    await runAll(off());
    const zoneText = compiled(env.zone);
    expect(zoneText).not.toMatch(new RegExp(`^_mta-sts\\.${env.zone.replace(/\./g, '\\.')}\\.\\s`, 'm'));
    expect(zoneText).toMatch(new RegExp(`^_mta-sts\\.shop\\.${env.zone.replace(/\./g, '\\.')}\\.\\s.*TXT\\s+"v=STSv1; id=customer1;"`, 'm'));
    expect((await env.l.digAuthoritative(`_mta-sts.${env.zone}`, 'TXT')).answers).toEqual([]);
    expect((await env.l.digAuthoritative(customerTxt, 'TXT')).answers.join(' ')).toContain('id=customer1');
    expect(() => statSync(ourFile)).toThrow();
    for (const f of theirs) expect(readFileSync(f, 'utf8')).toBe('the customer\'s\n');
    expect(readFileSync(join(env.l.cpanelRoot, 'whmapi1.log'), 'utf8')).toMatch(new RegExp(`delete_domain domain=mta-sts\\.${env.zone.replace(/\./g, '\\.')}$`, 'm'));
    expect(readFileSync(join(env.l.cpanelRoot, 'systemctl.log'), 'utf8')).toContain(`start tlsa-manager-mta-sts-subdomain@${env.zone}.service`);
    expect(mtaStsStore(off()).get(env.zone)).toBeNull();
    // A sender finds no policy any more.
    await env.l.flushResolver();
    const gone = await judge();
    expect(gone.result, gone.output).not.toBe('VALID');
    // A further run changes nothing.
    const again = await makePlan(off(), new Providers(off()), { showOnly: true });
    expect(again.zones.flatMap((z) => z.changes).filter((c) => c.record.owner.includes('_mta-sts'))).toEqual([]);
  });
});
