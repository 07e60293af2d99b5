// Issue 13's "done when" in the lab: a TLSA record broken by hand is found by ONE scheduled check
// run and raises exactly one alert on every configured channel (cPanel iContact stub, e-mail
// through the lab's Exim into its mailbox, a signed webhook); fixing it sends one resolve. The
// Nagios mode's exit codes are judged against the same lab.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore } from '../../src/alerts/notify.js';
import { CHECK_KIND, runScheduledChecks, schedule } from '../../src/checks/scheduled.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { installStubs } from '../../demo/stubs-install.js';
import { useLab } from '../lab/setup.js';
import type { Lab } from '../lab/lab.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const SECRET = 'lab-webhook-secret-0123456789';
const lab = useLab({ zones: [{ name: 'alert1', signed: true, ds: true }, { name: 'alert2', signed: true, ds: true }] });

interface Hook {
  body: string;
  signature: string;
  verified: boolean;
}

/** The receiver checks the signature with openssl, not with our code. */
function opensslHmac(body: string, secret: string): string {
  return execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret, '-r'], { input: body }).toString().split(/\s+/)[0]!;
}

let server: Server;
let hookUrl = '';
const hooks: Hook[] = [];
let failNext = 0;
let requests = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['x-tlsa-manager-signature'] ?? '');
      hooks.push({ body, signature, verified: signature === `sha256=${opensslHmac(body, SECRET)}` });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  hookUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/tlsa`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Messages in the lab Exim's mbox, split on mbox "From " lines. */
function mailbox(l: Lab): string[] {
  if (!existsSync(l.mailbox)) return [];
  return readFileSync(l.mailbox, 'utf8').split(/^From /m).filter((m) => m.trim() !== '');
}

/** The Subject header, RFC 2047 encoded-words decoded (base64 UTF-8, as mail clients do). */
function subject(mail: string): string {
  const raw = /^Subject: (.*(?:\n[ \t].*)*)$/m.exec(mail)?.[1] ?? '';
  return raw.replace(/\n[ \t]/g, ' ').replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_m, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
}

function icontactCalls(l: Lab): { args: { subject: string; message: string; application: string; event_name: string } }[] {
  const f = join(l.cpanelRoot, 'var/log/stub-calls.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { stub: string; args: never }).filter((c) => c.stub === 'Cpanel::iContact::icontact');
}

async function setup(l: Lab, domains: string[]): Promise<string> {
  const root = l.cpanelRoot;
  await installStubs(root);
  writeFileSync(join(root, 'etc/userdomains'), domains.map((d) => `${d}: alertuser`).join('\n') + '\n');
  writeFileSync(join(root, 'etc/wwwacct.conf'), `ADDR ${l.exim}\nCONTACTEMAIL hostmaster@${l.hostname}\nNS ns1.${l.parent}\n`);
  execFileSync('mkdir', ['-p', join(root, 'etc/tlsa-manager')]);
  const config = {
    resolver: l.resolver,
    resolverProbeName: l.parent,
    cpanel: { useWhmApi: false, authoritative: false, reloadCommand: ['true'] },
    alerts: { email: ['CONTACTEMAIL'], cpanelNotifications: true, webhook: { url: hookUrl, secret: SECRET }, sendmail: l.sendmailArgv },
  };
  writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify(config), { mode: 0o600 });
  return root;
}

function context(root: string, at: number): AppContext {
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  ctx.now = () => at;
  return ctx;
}

async function publish(l: Lab, zone: string, host: string, rdata: string[]): Promise<void> {
  await l.setRecords(zone, [25, 465, 587].flatMap((p) => rdata.map((rd) => `_${p}._tcp.${host}. 30 IN TLSA ${rd}`)));
  await l.flushResolver();
}

function nagios(root: string, args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, 'check', '--nagios', '--root', root, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout + r.stderr };
}

describe('alerts in the lab', () => {
  it('a hand-broken TLSA record: one alert per channel from one scheduled run, one resolve after the fix; Nagios codes follow', async () => {
    const l = lab();
    const domain = `alert1.${l.parent}`;
    const other = `alert2.${l.parent}`;
    const host = `mail.${domain}`;
    const otherHost = `mail.${other}`;
    const root = await setup(l, [domain, other]);
    const cert = await l.issueCert({ names: [host] });
    l.installCert(host, cert.combinedPem);
    const otherCert = await l.issueCert({ names: [otherHost] });
    l.installCert(otherHost, otherCert.combinedPem);
    await publish(l, domain, host, [`3 1 1 ${cert.spkiSha256}`]);
    await publish(l, other, otherHost, [`3 1 1 ${otherCert.spkiSha256}`]);

    // Each domain has its own daily slot (a hash of its name, src/schedule/policy.ts), so the other
    // domain's slot may fall inside a jump to this one's due time: it is then checked too, and
    // must stay valid and silent.
    const ours = (run: Awaited<ReturnType<typeof runScheduledChecks>>) => {
      expect(run.checked.filter((c) => c.domain !== domain).every((c) => c.verdict === 'valid')).toBe(true);
      return run.checked.filter((c) => c.domain === domain).map((c) => c.verdict);
    };
    // First run: every domain is checked once; valid is the baseline, nothing to say.
    let now = Date.now();
    const first = await runScheduledChecks(context(root, now), { all: true });
    expect(first.checked.map((c) => [c.domain, c.verdict]).sort()).toEqual([[domain, 'valid'], [other, 'valid']]);
    expect(first.raised).toBe(0);
    expect(nagios(root, ['--all'])).toMatchObject({ status: 0 });
    expect(nagios(root, ['--all']).stdout).toMatch(/^TLSA_MANAGER OK - 2 of 2 domain\(s\) validate, 0 without DANE \| valid=2;;;0;2 expiring=0;;;0;2 broken=0;1;1;0;2 unprotected=0;;;0;2 warnings=0;;;0;2 expired=0;;;0;2\n$/);

    // Break it by hand: a wrong 3 1 1 (another key) replaces the right one.
    const wrong = await l.issueCert({ names: [host] });
    await publish(l, domain, host, [`3 1 1 ${wrong.spkiSha256}`]);

    // The schedule runs the domain at its own time; the test jumps there (no waiting).
    now = schedule(context(root, now)).get(CHECK_KIND, domain)!.dueAt;
    failNext = 1; // the webhook receiver answers 503 once: the channel retries with back-off
    const broken = await runScheduledChecks(context(root, now));
    expect(ours(broken)).toEqual(['tlsa-mismatch']);
    expect(broken.raised).toBe(1);
    expect(broken.failedDeliveries).toBe(0);
    expect(requests).toBe(2);

    const mails = mailbox(l);
    expect(mails).toHaveLength(1);
    expect(subject(mails[0]!)).toBe(`[TLSA Manager] ALERT: DANE Valid → TLSA mismatch for ${domain}`);
    expect(mails[0]).toMatch(new RegExp(`^Envelope-to: hostmaster@${l.hostname.replace(/\./g, '\\.')}$`, 'm'));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.verified).toBe(true);
    const payload = JSON.parse(hooks[0]!.body) as Record<string, unknown>;
    expect(payload).toMatchObject({ event: 'raised', kind: 'domain-degraded', severity: 'critical', domain, verdict: { old: 'valid', new: 'tlsa-mismatch' }, server: l.hostname });
    expect(String(payload.text)).toContain(domain);
    const calls = icontactCalls(l);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args).toMatchObject({ application: 'TLSAManager', event_name: 'DomainDegraded', subject: `[TLSA Manager] ALERT: DANE Valid → TLSA mismatch for ${domain}` });

    // Nagios sees it too: CRITICAL by default, WARNING with --critical 2, OK-for-others not.
    const crit = nagios(root, ['--all']);
    expect(crit.status).toBe(2);
    expect(crit.stdout).toMatch(new RegExp(`^TLSA_MANAGER CRITICAL - 1 of 2 domain\\(s\\) broken \\(${domain.replace(/\./g, '\\.')}: TLSA mismatch\\) \\| .*broken=1;1;1;0;2`));
    expect(nagios(root, ['--all', '--warning', '1', '--critical', '2']).status).toBe(1);
    expect(nagios(root, [other]).status).toBe(0);

    // Still broken at the next (back-off) run: the same incident, nothing sent again.
    now = schedule(context(root, now)).get(CHECK_KIND, domain)!.dueAt;
    const again = await runScheduledChecks(context(root, now));
    expect(ours(again)).toEqual(['tlsa-mismatch']);
    expect(again.raised).toBe(0);
    expect([mailbox(l).length, hooks.length, icontactCalls(l).length]).toEqual([1, 1, 1]);

    // Fixed: one resolve on every channel.
    await publish(l, domain, host, [`3 1 1 ${cert.spkiSha256}`]);
    now = schedule(context(root, now)).get(CHECK_KIND, domain)!.dueAt;
    const fixed = await runScheduledChecks(context(root, now));
    expect(ours(fixed)).toEqual(['valid']);
    expect(fixed.resolved).toBe(1);
    expect(mailbox(l)).toHaveLength(2);
    expect(subject(mailbox(l)[1]!)).toBe(`[TLSA Manager] RESOLVED: DANE Valid → TLSA mismatch for ${domain}`);
    expect(hooks).toHaveLength(2);
    expect(hooks[1]!.verified).toBe(true);
    expect(JSON.parse(hooks[1]!.body)).toMatchObject({ event: 'resolved', domain, verdict: { old: 'tlsa-mismatch', new: 'valid' } });
    expect(icontactCalls(l)).toHaveLength(2);
    expect(alertStore(context(root, now)).open()).toEqual([]);
    expect(nagios(root, ['--all']).status).toBe(0);
  });

  it('Nagios: a resolver that does not validate and a usage error are UNKNOWN (3)', () => {
    const l = lab();
    const root = l.cpanelRoot;
    const domain = `alert2.${l.parent}`;
    // BIND's authoritative server answers but never validates (no AD): unusable for DANE.
    const r = nagios(root, [domain, '--resolver', l.authoritative]);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^TLSA_MANAGER UNKNOWN - cannot judge DANE: /);
    expect(nagios(root, []).status).toBe(3);
    expect(nagios(root, [domain, '--warning', 'x'])).toMatchObject({ status: 3, stdout: expect.stringMatching(/^TLSA_MANAGER UNKNOWN - --warning must be a whole number/) });
    expect(nagios(root, [domain, '--no-such-option'])).toMatchObject({ status: 3, stdout: expect.stringMatching(/^TLSA_MANAGER UNKNOWN - /) });
  });
});
