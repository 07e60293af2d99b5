import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore, deliverDue } from '../../src/alerts/notify.js';
import { OWNER_CHANNEL, type OwnerMessage } from '../../src/alerts/channels/owner.js';
import { notifyOwners, ownerNoticeStore } from '../../src/access/owner-notify.js';
import { dnssecStore } from '../../src/dnssec/watch.js';
import type { DnssecState } from '../../src/dnssec/state.js';
import type { AppContext } from '../../src/context.js';
import { loadConfig, saveConfig } from '../../src/state/config.js';
import { demoFixture, type DemoFixture } from './web-fixture.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { createContext, createLogger } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';

/**
 * Telling the account owner (issue 28 item 5): the timer's owners' phase queues one message per
 * transition in the alert outbox (channel "owner"), and the e-mail channel's sendmail (a stub
 * that keeps what it is given) sends it to the account's CONTACTEMAIL.
 */
const DAY = 24 * 3_600_000;
const T0 = Date.UTC(2026, 10, 1, 12);
let fx: DemoFixture;
let spool: string;
let configFile: string;

beforeAll(async () => {
  fx = await demoFixture();
  spool = join(fx.dir, 'mail');
  mkdirSync(spool);
  const stub = join(fx.dir, 'sendmail');
  // Arguments on the first line, the message after it: what Exim's sendmail would be handed.
  writeFileSync(stub, `#!/bin/sh\nf=$(mktemp "${spool}/m.XXXXXX")\necho "$*" > "$f"\ncat >> "$f"\n`);
  chmodSync(stub, 0o755);
  configFile = join(fx.root, 'etc/tlsa-manager/config.json');
  const cfg = loadConfig(configFile);
  saveConfig(configFile, { ...cfg, accountView: { enabled: true, notify: true }, alerts: { ...cfg.alerts, cpanelNotifications: false, sendmail: [stub] } });
});
afterAll(() => fx?.cleanup());

function at(now: number): AppContext {
  const ctx = fx.context();
  ctx.now = () => now;
  return ctx;
}

function dnssec(ctx: AppContext, zone: string, state: DnssecState, time: number): void {
  dnssecStore(ctx).put({ zone, state, reason: null, signing: null, ds: [{ keyTag: 12345, algorithm: 13, digestType: 2, digest: 'AB'.repeat(32) }], parentDs: [], dnskey: [], parent: 'test', message: '', fix: '', failed: [], signer: 'cpanel', time: new Date(time).toISOString() });
}

function queued(ctx: AppContext): OwnerMessage[] {
  return alertStore(ctx).deliveries({ limit: 1000 }).filter((d) => d.channel === OWNER_CHANNEL).reverse().map((d) => JSON.parse(d.payload) as OwnerMessage);
}

const sent = () => readdirSync(spool).sort().map((f) => readFileSync(join(spool, f), 'utf8'));

describe("account owners' notices (issue 28 item 5)", () => {
  it('a DS missing for 7 days is one message, done is one more; nothing in between, and it is mailed to CONTACTEMAIL', async () => {
    dnssec(at(T0), 'foxtrot-demo.test', 'signed-no-ds', T0);
    // Six days: a registrar may still be at work.
    expect((await notifyOwners(at(T0 + 6 * DAY))).queued).toBe(0);
    const r = await notifyOwners(at(T0 + 7 * DAY + 1));
    expect(r).toMatchObject({ queued: 1, failures: [] });
    expect(queued(at(T0))).toMatchObject([{ event: 'raised', kind: 'owner-ds-missing', account: 'foxtrot', domain: 'foxtrot-demo.test', to: ['admin@foxtrot-demo.test'] }]);
    // The next runs of the timer (every few minutes, for days) add nothing.
    for (const d of [8, 9, 20]) expect((await notifyOwners(at(T0 + d * DAY))).queued).toBe(0);
    expect(await deliverDue(at(T0 + 20 * DAY))).toMatchObject({ delivered: 1, failed: 0 });
    const mails = sent();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.split('\n')[0]).toBe('-oi -- admin@foxtrot-demo.test');
    expect(mails[0]).toContain('Subject: Action needed: finish protecting mail to foxtrot-demo.test');
    expect(mails[0]).toContain('DS record'); // the term, with its one-line explanation
    expect(mails[0]).toContain('a short fingerprint of the signature key');
    // The registrar publishes the DS: the watcher stores "secure"; one "done" message.
    dnssec(at(T0 + 21 * DAY), 'foxtrot-demo.test', 'secure', T0 + 21 * DAY);
    expect((await notifyOwners(at(T0 + 21 * DAY))).queued).toBe(1);
    expect((await notifyOwners(at(T0 + 22 * DAY))).queued).toBe(0);
    expect(queued(at(T0)).map((m) => `${m.event} ${m.kind}`)).toEqual(['raised owner-ds-missing', 'resolved owner-ds-missing']);
    await deliverDue(at(T0 + 22 * DAY));
    expect(sent()).toHaveLength(2);
    expect(sent().some((m) => m.includes('Subject: Done: mail to foxtrot-demo.test can now be protected'))).toBe(true);
    // And missing again later (a DS removed at the registrar): needed again, once.
    dnssec(at(T0 + 23 * DAY), 'foxtrot-demo.test', 'signed-no-ds', T0 + 23 * DAY);
    expect((await notifyOwners(at(T0 + 30 * DAY + 1))).queued).toBe(1);
    expect((await notifyOwners(at(T0 + 31 * DAY))).queued).toBe(0);
  });

  it("the owner's opt-out stops them; turned on again, what changed meanwhile is told", async () => {
    const ctx = at(T0 + 40 * DAY);
    ownerNoticeStore(ctx).setNotify('foxtrot', false, ctx.now());
    dnssec(ctx, 'foxtrot-demo.test', 'secure', T0 + 40 * DAY);
    const before = queued(ctx).length;
    expect((await notifyOwners(ctx)).queued).toBe(0);
    expect(queued(ctx).length).toBe(before);
    ownerNoticeStore(ctx).setNotify('foxtrot', true, ctx.now());
    expect((await notifyOwners(ctx)).queued).toBe(1);
  });

  it("root's accountView.notify false stops them (and so does turning the page off)", async () => {
    const cfg = loadConfig(configFile);
    dnssec(at(T0 + 50 * DAY), 'foxtrot-demo.test', 'signed-no-ds', T0 + 50 * DAY);
    for (const view of [{ enabled: true, notify: false }, { enabled: false, notify: true }]) {
      saveConfig(configFile, { ...cfg, accountView: view });
      expect(await notifyOwners(at(T0 + 60 * DAY))).toEqual({ accounts: 0, queued: 0, failures: [], deferred: 0 });
    }
    saveConfig(configFile, cfg);
    expect((await notifyOwners(at(T0 + 60 * DAY))).queued).toBe(1);
  });

  it("an account whose contact file is broken fails alone; the others are told, and it is told once it is mended", async () => {
    const users = join(fx.root, 'var/cpanel/users/delta');
    const good = readFileSync(users, 'utf8');
    writeFileSync(users, good.replace(/^CONTACTEMAIL=.*$/m, 'CONTACTEMAIL=not an address\u0007'));
    dnssec(at(T0), 'delta-demo.test', 'signed-no-ds', T0 + 61 * DAY);
    dnssec(at(T0), 'foxtrot-demo.test', 'secure', T0 + 61 * DAY);
    const r = await notifyOwners(at(T0 + 70 * DAY));
    expect(r.queued).toBe(1); // foxtrot's "done"
    expect(r.failures).toEqual(['delta: account delta has no contact address (CONTACTEMAIL in /var/cpanel/users/delta)']);
    expect(queued(at(T0)).at(-1)).toMatchObject({ account: 'foxtrot', event: 'resolved' });
    writeFileSync(users, good);
    const again = await notifyOwners(at(T0 + 71 * DAY));
    expect(again).toMatchObject({ queued: 1, failures: [] });
    expect(queued(at(T0)).at(-1)).toMatchObject({ account: 'delta', domain: 'delta-demo.test', kind: 'owner-ds-missing', to: ['admin@delta-demo.test'] });
  });

  it("the timer's reconcile run tells the owner, and sends it in the same run", async () => {
    const stub = join(fx.dir, 'sendmail');
    const root = makeFakeRoot({
      domains: { 'rec.test': 'rec' },
      local: ['rec.test'],
      zones: { 'rec.test': cpanelZone('rec.test', ['rec.test. IN MX 10 mail.rec.test.', 'mail IN A 192.0.2.10']) },
      files: {
        '/var/cpanel/users/rec': 'DNS=rec.test\nCONTACTEMAIL=owner@rec.test\n',
        '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, accountView: { enabled: true, notify: true }, alerts: { cpanelNotifications: false, sendmail: [stub] } }),
      },
    });
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    dnssec(ctx, 'rec.test', 'signed-no-ds', Date.now() - 8 * DAY);
    const before = new Set(sent());
    const r = await reconcile(ctx, { force: true });
    expect(r.summary).not.toContain('owners:');
    const mails = sent().filter((m) => !before.has(m));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.split('\n')[0]).toBe('-oi -- owner@rec.test');
    expect(mails[0]).toContain('Subject: Action needed: finish protecting mail to rec.test');
    await reconcile(ctx, { force: true });
    expect(sent().length).toBe(before.size + 1);
  });

  it('a run past its budget leaves the other accounts to the next runs, which go on where it stopped', async () => {
    const accounts = [...new Set(fx.manifest.accounts.map((a) => a.user))];
    dnssec(at(T0), 'foxtrot-demo.test', 'signed-no-ds', T0 + 80 * DAY);
    dnssec(at(T0), 'delta-demo.test', 'secure', T0 + 80 * DAY);
    const before = queued(at(T0)).length;
    // A budget used up at once: one account per run.
    const runs = [];
    for (let i = 0; i < accounts.length; i++) runs.push(await notifyOwners(at(T0 + 90 * DAY), { budgetMs: -1 }));
    expect(runs.map((r) => r.deferred)).toEqual(accounts.map(() => accounts.length - 1));
    // Every account had its turn: foxtrot's "needed" and delta's "done" are both queued, once.
    expect(queued(at(T0)).slice(before).map((m) => `${m.account} ${m.event}`).sort()).toEqual(['delta resolved', 'foxtrot raised']);
  });

  it("a failing sendmail keeps the owner's message queued and retried, shown as the owner channel failing", async () => {
    const cfg = loadConfig(configFile);
    const ctx = at(T0 + 100 * DAY);
    await deliverDue(ctx); // what earlier tests queued
    dnssec(ctx, 'foxtrot-demo.test', 'secure', T0 + 100 * DAY);
    expect((await notifyOwners(ctx)).queued).toBe(1);
    saveConfig(configFile, { ...cfg, alerts: { ...cfg.alerts, sendmail: ['false'] } });
    expect(await deliverDue(at(T0 + 100 * DAY))).toMatchObject({ delivered: 0, failed: 1 });
    expect(alertStore(ctx).failingChannels()).toMatchObject([{ channel: OWNER_CHANNEL, pending: 1, attempts: 1 }]);
    saveConfig(configFile, cfg);
    const before = sent().length;
    expect(await deliverDue(at(T0 + 100 * DAY + 60_000))).toMatchObject({ delivered: 1, failed: 0 });
    expect(sent().length).toBe(before + 1);
    expect(alertStore(ctx).failingChannels()).toEqual([]);
  });
});
