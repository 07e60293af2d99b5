import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { mtaStsContext, mtaStsEnv, type MtaStsEnv } from '../lab/mta-sts-env.js';
import { mtaStsQuery, posttlsSecure, servedPolicy } from '../lab/mta-sts-query.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { alertStore } from '../../src/alerts/notify.js';
import { mtaStsChecks } from '../../src/mtasts/checks-store.js';
import { enforceDecisionFor, MTA_STS_CHECK_KIND } from '../../src/mtasts/scheduled.js';
import { Schedule } from '../../src/schedule/schedule.js';
import { mtaStsStatus } from '../../src/mtasts/status.js';
import { mtaStsStore } from '../../src/mtasts/store.js';
import { parseResolver } from '../../src/resolver/stub-client.js';
import { createSubdomain } from '../../src/mtasts/subdomain.js';
import { tlsrptStore } from '../../src/tlsrpt/store.js';
import type { AppContext } from '../../src/context.js';

/**
 * Issue 27 Done-when 2: a domain goes from nothing to testing to enforce through the timer
 * (reconcile) alone, auto-enforce deciding on the lab's injected evidence (its own daily checks
 * against the real Apache and Exim, and signed sts TLS reports put into the TLS-RPT store), the
 * clock moved through the context, never by sleeping. After every run a sender never sees an id
 * whose policy is not served: the id in the `_mta-sts` TXT the lab resolver answers equals the
 * SHA-256 id (sha256sum) of the body curl fetches over HTTPS, and mta-sts-query (the judge) gets
 * that id with a valid policy.
 */
let env: MtaStsEnv;
const lab = useLab({ zones: [{ name: 'auto', signed: true, ds: true }] });
const DAY = 86_400_000;
const T0 = Date.now();
let offset = 0;
const ON = { publish: 'all', mode: 'testing', autoEnforce: { enabled: true, afterDays: 2 } };

function at(mtaSts: Record<string, unknown>): AppContext {
  const c = mtaStsContext(env, mtaSts);
  c.now = () => T0 + offset;
  return c;
}

/** One timer run at the current offset (the resolver's cache emptied first, as time passing would). */
async function timerRun(mtaSts: Record<string, unknown> = ON) {
  await env.l.flushResolver();
  const r = await reconcile(at(mtaSts));
  expect(r.summary).not.toMatch(/mtasts:|publish:/);
  await env.l.flushResolver();
  return r;
}

/** What a sender sees now: the announced id must be the id of the policy served, and the judge agrees. */
async function senderSees(): Promise<{ id: string | null; mode: string | null }> {
  const txt = await env.l.dig(`_mta-sts.${env.zone}`, 'TXT');
  const ids = txt.answers.map((a) => /v=STSv1; id=([A-Za-z0-9]+);/.exec(a)?.[1]).filter((x): x is string => x !== undefined);
  const j = await mtaStsQuery({ resolvConf: env.l.resolvConf, caFile: env.caFile, domain: env.zone });
  if (ids.length === 0) {
    expect(j.result, j.output).toBe('NONE');
    return { id: null, mode: null };
  }
  expect(ids).toHaveLength(1);
  const served = await servedPolicy({ resolvConf: env.l.resolvConf, caFile: env.caFile, domain: env.zone });
  expect(served.status).toBe('200');
  expect(served.sha256id, `announced ${ids[0]} but serving:\n${served.body}`).toBe(ids[0]);
  expect(j.result, j.output).toBe('VALID');
  expect(j.id).toBe(ids[0]);
  expect(served.body).toContain(`mode: ${j.mode}\r\n`);
  return { id: ids[0]!, mode: j.mode ?? null };
}

describe('MTA-STS from nothing to testing to enforce on evidence (lab, the timer only)', () => {
  beforeAll(async () => {
    env = await mtaStsEnv(lab(), 'auto');
  }, 120_000);
  afterAll(async () => {
    await env?.apache.stop();
  });

  it('nothing → testing → enforce, and every announced id is served', async () => {
    // Nothing: MTA-STS off.
    await timerRun({ publish: 'off' });
    expect(await senderSees()).toEqual({ id: null, mode: null });

    // The admin opts the domain in; the subdomain is made through the oneshot unit's command (WHM API 1
    // stand-in), cPanel's address record for it is the lab Apache.
    const ctx = at(ON);
    expect(await createSubdomain(ctx, env.zone, new Set([env.zone]), 'test')).toBeNull();
    await env.l.setRecords(env.zone, [`mta-sts.${env.zone}. 60 IN A ${env.web}`]);

    // Day 0: served, then announced, then checked clean.
    await timerRun();
    const testing = await senderSees();
    expect(testing.mode).toBe('testing');
    const first = mtaStsChecks(ctx).latest(env.zone)!;
    expect(first).toMatchObject({ state: 'testing', id: testing.id, problems: [] });

    // Day 1: checked again, clean; the countdown runs to day 2.
    offset = DAY;
    await timerRun();
    expect((await senderSees()).id).toBe(testing.id);
    let d = enforceDecisionFor(ctx, mtaStsStore(ctx).get(env.zone)!, T0 + offset);
    expect(d).toMatchObject({ move: false, enforceAt: new Date(Date.parse(first.time) + 2 * DAY).toISOString() });
    expect(d.evidence.checks).toBe(2);

    // Day 2: clean for two days, but no signed report yet: no move.
    offset = 2 * DAY;
    await timerRun();
    expect(mtaStsStore(ctx).get(env.zone)!.mode).toBe('testing');
    expect((await senderSees()).id).toBe(testing.id);

    // The evidence arrives: a signed sts report without failures (and an unsigned one with failures, not weighed).
    const report = (id: string, authenticated: boolean, failed: number) => ({ reportId: id, organization: 'Lab Sender', contact: null, start: T0 + DAY, end: T0 + 2 * DAY - 1, signer: authenticated ? 'sender.test' : '', authenticated, policiesCut: 0, policies: [{ policyType: 'sts', policyDomain: env.zone, mxHosts: [env.mx], successful: 12, failed, results: [], samples: [] }] });
    tlsrptStore(ctx).add(report('unsigned-1', false, 9), T0 + 2 * DAY);
    tlsrptStore(ctx).add(report('signed-1', true, 0), T0 + 2 * DAY);

    // The next run moves it; this run's publish came before the move, so testing is still what is announced and served.
    offset = 2 * DAY + 10 * 60_000;
    await timerRun();
    expect(mtaStsStore(ctx).get(env.zone)!.mode).toBe('enforce');
    expect(alertStore(ctx).open().filter((a) => a.kind === 'mta-sts-enforced').map((a) => a.subject)).toEqual([env.zone]);
    expect((await senderSees()).id).toBe(testing.id);

    // The run after serves the enforce policy, fetches it back, then announces its id.
    offset = 2 * DAY + 20 * 60_000;
    await timerRun();
    const enforce = await senderSees();
    expect(enforce.mode).toBe('enforce');
    expect(enforce.id).not.toBe(testing.id);

    // Day 3, at the domain's own daily slot (a hash of its name, src/schedule/policy.ts): when that
    // slot lies within minutes after T0's time of day, the run 10 minutes past day 2 checked
    // already and the next check waits for the slot, past T0 + 3 days (failed between 20:48 and
    // 20:58 UTC). The check under enforce is clean: the news clears, nothing is broken.
    offset = Math.max(3 * DAY, new Schedule(ctx.state().db).get(MTA_STS_CHECK_KIND, env.zone)!.dueAt - T0);
    await timerRun();
    expect(mtaStsChecks(ctx).latest(env.zone)).toMatchObject({ state: 'enforce', id: enforce.id, problems: [] });
    expect(alertStore(ctx).open().filter((a) => a.kind.startsWith('mta-sts'))).toEqual([]);
    expect(await senderSees()).toEqual(enforce);
  }, 300_000);

  it('mxWildcard: every MX host one label below the zone → mx: *.<zone>, rolled out in order; the judges match it', async () => {
    offset += 10 * 60_000;
    const before = await senderSees();
    await timerRun({ ...ON, mxWildcard: true });
    const after = await senderSees();
    expect(after.id).not.toBe(before.id);
    const j = await mtaStsQuery({ resolvConf: env.l.resolvConf, caFile: env.caFile, domain: env.zone });
    expect(j).toMatchObject({ result: 'VALID', mode: 'enforce', mx: [`*.${env.zone}`] });
    const ctx = at({ ...ON, mxWildcard: true });
    const s = await mtaStsStatus(env.zone, { resolver: parseResolver(env.l.resolver), ca: env.l.ca.root.certPem, stored: mtaStsStore(ctx).get(env.zone), timeoutMs: 8000 });
    expect(s.problems).toEqual([]);
    expect(s.mx).toEqual([expect.objectContaining({ host: env.mx, covered: true, certificateValid: true })]);
    // A Postfix sender gets "match=.<zone>" from postfix-mta-sts-resolver (it strips the "*"); posttls-finger secure with that match verifies the MX.
    const f = await posttlsSecure({ postfixDir: env.postfixDir, confDir: env.pfConf, resolvConf: env.l.resolvConf, host: env.mx, caFile: env.caFile, match: [`.${env.zone}`] });
    expect(f.verified, f.output).toBe(true);
    // And a name outside the pattern does not match the certificate (the judge is not lenient).
    const other = await posttlsSecure({ postfixDir: env.postfixDir, confDir: env.pfConf, resolvConf: env.l.resolvConf, host: env.mx, caFile: env.caFile, match: ['.other.test'] });
    expect(other.verified).toBe(false);
  }, 120_000);
});
