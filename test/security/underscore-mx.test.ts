// Issue 21, finding 3: one customer's signed zone publishes `MX 5 mx_1.<domain>`. Before, the
// stub client threw on the underscore, checkDomains rejected as a whole, and no domain's result
// was saved, no queued alert delivered, by `check --all` and by the timer alike. Now that domain
// is `mx-invalid` (dns-error) and every other domain is checked, saved and alerted on.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECK_KIND, syncSchedule } from '../../src/checks/scheduled.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import type { DomainCheck } from '../../src/dane/verdict.js';
import { installStubs } from '../../demo/stubs-install.js';
import { useLab } from '../lab/setup.js';
import type { Lab } from '../lab/lab.js';

const CLI = join(process.cwd(), 'dist/cli.js');
// BIND refuses a host name with an underscore in an MX target of a primary zone unless told not
// to check names: the customer's zone may be hosted anywhere, with any server.
const lab = useLab({
  zones: [
    { name: 'okay1', signed: true, ds: true },
    { name: 'okay2', signed: true, ds: true },
    { name: 'victim', signed: true, ds: true, options: ['check-names ignore;'] },
  ],
});

beforeAll(() => {
  // `check --all` below runs the built CLI.
  if (!existsSync(CLI)) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
});

function context(root: string, at: number): AppContext {
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  ctx.now = () => at;
  return ctx;
}

/** A time at which every domain's scheduled check is due. */
function allDue(root: string, now: number): number {
  return Math.max(now, ...syncSchedule(context(root, now), now).list(CHECK_KIND).map((i) => i.dueAt)) + 1000;
}

/** The Subject header, RFC 2047 encoded-words decoded (base64 UTF-8, as mail clients do). */
function subject(mail: string): string {
  const raw = /^Subject: (.*(?:\n[ \t].*)*)$/m.exec(mail)?.[1] ?? '';
  return raw.replace(/\n[ \t]/g, ' ').replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_m, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
}

function mailbox(l: Lab): string[] {
  if (!existsSync(l.mailbox)) return [];
  return readFileSync(l.mailbox, 'utf8').split(/^From /m).filter((m) => m.trim() !== '');
}

async function publish(l: Lab, zone: string, host: string, rdata: string, extra: string[] = []): Promise<void> {
  await l.setRecords(zone, [...[25, 465, 587].map((p) => `_${p}._tcp.${host}. 30 IN TLSA ${rdata}`), ...extra]);
  await l.flushResolver();
}

describe('an underscore MX in one customer signed zone', () => {
  it('check --all and the timer save results for every other domain and deliver queued alerts', async () => {
    const l = lab();
    const [ok1, ok2, victim] = ['okay1', 'okay2', 'victim'].map((z) => `${z}.${l.parent}`) as [string, string, string];
    const root = l.cpanelRoot;
    await installStubs(root);
    writeFileSync(join(root, 'etc/userdomains'), [ok1, ok2, victim].map((d) => `${d}: someone`).join('\n') + '\n');
    writeFileSync(join(root, 'etc/wwwacct.conf'), `ADDR ${l.exim}\nCONTACTEMAIL hostmaster@${l.hostname}\nNS ns1.${l.parent}\n`);
    execFileSync('mkdir', ['-p', join(root, 'etc/tlsa-manager')]);
    const config = { resolver: l.resolver, resolverProbeName: l.parent, cpanel: { useWhmApi: false, authoritative: false, reloadCommand: ['true'] }, alerts: { email: ['CONTACTEMAIL'], sendmail: l.sendmailArgv } };
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify(config), { mode: 0o600 });

    const certs = new Map<string, Awaited<ReturnType<Lab['issueCert']>>>();
    for (const d of [ok1, ok2, victim]) {
      const c = await l.issueCert({ names: [`mail.${d}`] });
      l.installCert(`mail.${d}`, c.combinedPem);
      certs.set(d, c);
      await publish(l, d, `mail.${d}`, `3 1 1 ${c.spkiSha256}`);
    }

    // A first timer run when every domain's daily slot has come: all valid, the alert baseline.
    let now = allDue(root, Date.now());
    await reconcile(context(root, now), { force: true });
    const first = context(root, now).state().latestChecks();
    expect([...first.entries()].map(([d, c]) => [d, c.verdict]).sort()).toEqual([[ok1, 'valid'], [ok2, 'valid'], [victim, 'valid']]);

    // okay2 breaks (a wrong key): an alert is due. The victim's customer adds `MX 5 mx_1.victim…`.
    const wrong = await l.issueCert({ names: [`mail.${ok2}`] });
    await publish(l, ok2, `mail.${ok2}`, `3 1 1 ${wrong.spkiSha256}`);
    await publish(l, victim, `mail.${victim}`, `3 1 1 ${certs.get(victim)!.spkiSha256}`, [`${victim}. 30 IN MX 5 mx_1.${victim}.`, `mx_1.${victim}. 30 IN A ${l.exim}`]);
    const mx = await l.dig(victim, 'MX');
    expect(mx.flags).toContain('ad');
    expect(mx.answers.join('\n')).toContain(`mx_1.${victim}.`);

    // check --all: a result for every domain, exit 1 (not every domain validates), no crash.
    const cli = spawnSync(process.execPath, [CLI, 'check', '--all', '--json', '--root', root], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(1);
    const results = JSON.parse(cli.stdout) as DomainCheck[];
    const byDomain = new Map(results.map((r) => [r.domain, r]));
    expect([...byDomain.keys()].sort()).toEqual([ok1, ok2, victim]);
    expect(byDomain.get(ok1)!.verdict).toBe('valid');
    expect(byDomain.get(ok2)!.verdict).toBe('tlsa-mismatch');
    expect(byDomain.get(victim)!.verdict).toBe('dns-error');
    expect(byDomain.get(victim)!.problems?.map((p) => p.code)).toContain('mx-invalid');
    expect(byDomain.get(victim)!.mx.find((m) => m.host === `mail.${victim}`)?.verdict).toBe('valid');

    // The timer, when every domain is due again: all three saved, okay2's alert mailed.
    now = allDue(root, now);
    const mailsBefore = mailbox(l).length;
    const run = await reconcile(context(root, now));
    expect(run.rechecked).toBe(3);
    // okay2 and the victim went from valid to broken: one alert each, both mailed.
    expect(run.alertsRaised).toBe(2);
    const saved = context(root, now).state().latestChecks();
    expect(new Set([...saved.values()].map((c) => c.time))).toEqual(new Set([new Date(now).toISOString()]));
    expect([...saved.entries()].map(([d, c]) => [d, c.verdict]).sort()).toEqual([[ok1, 'valid'], [ok2, 'tlsa-mismatch'], [victim, 'dns-error']]);
    const mails = mailbox(l).slice(mailsBefore).map(subject).sort();
    expect(mails).toEqual([`[TLSA Manager] ALERT: DANE Valid → DNS error for ${victim}`, `[TLSA Manager] ALERT: DANE Valid → TLSA mismatch for ${ok2}`]);
  });
});
