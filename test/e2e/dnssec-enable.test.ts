import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installStubs } from '../../demo/stubs-install.js';
import { processDisableIntents } from '../../src/dnssec/disable.js';
import { dnssecStatus } from '../../src/dnssec/status.js';
import { useLab } from '../lab/setup.js';
import { run } from '../lab/proc.js';
import { waitUntilOk } from './dnssec-helpers.js';
import { testContext } from '../helpers/context.js';
import type { Lab } from '../lab/lab.js';
import { startFakeCloudflare, type FakeDnssecKey } from '../fakes/cloudflare/server.js';

/**
 * Issue 12, enable → DS → registrar → secure with the cPanel stub: the stub whmapi1 plays
 * PowerDNS with BIND's key tools and makes the lab's named sign the zone with exactly the keys it
 * reports, so the DS it hands out is the one named's key needs (checked with dnssec-dsfromkey).
 */
const lab = useLab({
  zones: [
    { name: 'pdns', signed: false, ds: false, keysOnDemand: true },
    { name: 'bindns', signed: false, ds: false, keysOnDemand: true },
    { name: 'cfz', signed: false, ds: false, keysOnDemand: true },
    { name: 'conflict', signed: false, ds: 'wrong', keysOnDemand: true },
  ],
});

async function cpanelRoot(l: Lab, nameserver: 'powerdns' | 'bind', zone: string) {
  const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent, dnssec: { servers: { [l.parent]: [l.authoritative] } }, zones: { [zone]: { provider: 'cpanel' } } });
  const root = ctx.root.path('/');
  await installStubs(root);
  mkdirSync(join(root, 'var/cpanel'), { recursive: true });
  mkdirSync(join(root, 'var/named'), { recursive: true });
  writeFileSync(join(root, 'var/cpanel/cpanel.config'), `local_nameserver_type=${nameserver}\n`);
  copyFileSync(l.zoneFile(zone), join(root, `var/named/${zone}.db`));
  writeFileSync(join(root, 'var/cpanel/demo-pdns.json'), JSON.stringify({ keysDir: l.keysDir, rndc: l.rndcBase }));
  const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', '--root', root, ...args], { encoding: 'utf8' });
  return { ctx, root, cli };
}

const keyFiles = (l: Lab, zone: string) => readdirSync(l.keysDir).filter((f) => f.startsWith(`K${zone}.+`) && f.endsWith('.key'));

describe('dnssec enable with cPanel (PowerDNS stub driving the lab BIND)', () => {
  it('without PowerDNS: refused in one line with what to change for BIND, nothing changed', async () => {
    const l = lab();
    const zone = `bindns.${l.parent}`;
    const { cli } = await cpanelRoot(l, 'bind', zone);
    const r = cli('dnssec', 'enable', zone, '--yes');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/REFUSED — cPanel signs zones only with PowerDNS; this server runs BIND/);
    expect(r.stdout).toContain('dnssec-policy default; inline-signing yes;');
    expect(keyFiles(l, zone)).toEqual([]);
  });

  it('enable → DS (dnssec-dsfromkey of the key named signs with) → registrar adds it → secure; disable guarded; --after-ds-gone stops signing once the DS is gone long enough', async () => {
    const l = lab();
    const zone = `pdns.${l.parent}`;
    const { ctx, cli } = await cpanelRoot(l, 'powerdns', zone);

    const en = cli('dnssec', 'enable', zone, '--yes', '--json');
    expect(en.status, en.stderr + en.stdout).toBe(0);
    expect(en.stdout).not.toContain('Private-key-format'); // cPanel returns private keys: never shown
    const [row] = JSON.parse(en.stdout);
    expect(row).toMatchObject({ zone, ok: true, signer: 'cpanel', signing: 'active' });
    const files = keyFiles(l, zone);
    expect(files).toHaveLength(1);
    const dsfromkey = (await run(['dnssec-dsfromkey', '-2', join(l.keysDir, files[0]!)])).stdout.trim();
    const [, tag, alg, dt, digest] = /DS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-F]+)$/i.exec(dsfromkey)!;
    expect(row.ds).toEqual([{ keyTag: Number(tag), algorithm: 13, digestType: Number(dt), digest: digest!.toLowerCase() }]);
    expect(Number(alg)).toBe(13);

    // named signs with that key: the zone becomes signed-no-ds as validators see it.
    await waitUntilOk(async () => (await l.digAuthoritative(zone, 'DNSKEY')).answers.some((a) => /\sDNSKEY\s/.test(a)), 'named to serve the DNSKEY');
    await l.flushResolver();
    const [before] = await dnssecStatus(ctx, [zone]);
    expect({ state: before!.state, signing: before!.signing }).toEqual({ state: 'signed-no-ds', signing: 'active' });

    // Enabling again changes nothing.
    const again = JSON.parse(cli('dnssec', 'enable', zone, '--yes', '--json').stdout);
    expect(again[0]).toMatchObject({ ok: true, unchanged: true });
    expect(keyFiles(l, zone)).toHaveLength(1);

    // The lab plays registrar with the DS the product handed out.
    await l.setParentDs(zone, [dsfromkey]);
    await l.flushResolver();
    const st = cli('dnssec', 'status', zone, '--json');
    expect(st.status).toBe(0);
    expect(JSON.parse(st.stdout)[0]).toMatchObject({ state: 'secure', signing: 'active' });

    // Disable while the DS is there: refused with the safe order, nothing changed.
    const dis = cli('dnssec', 'disable', zone, '--yes');
    expect(dis.status).toBe(1);
    expect(dis.stdout).toMatch(/still has a DS for it: stopping signing now would make .* bogus/);
    expect(dis.stdout).toMatch(/1\. Remove the DS record .* at the registrar\.\n2\. Wait .*\n3\. Then stop signing/);
    expect(keyFiles(l, zone)).toHaveLength(1);

    // --after-ds-gone: the intent is recorded; the timer waits while the DS is there.
    const later = cli('dnssec', 'disable', zone, '--after-ds-gone');
    expect(later.status, later.stdout + later.stderr).toBe(0);
    expect(later.stdout).toMatch(/Recorded: signing of .* stops once its DS has been gone/);
    const t0 = Date.now();
    expect(await processDisableIntents(ctx, { now: t0 })).toEqual([]);
    await l.setParentDs(zone, []);
    await l.flushResolver();
    expect(await processDisableIntents(ctx, { now: t0 + 1000 })).toEqual([]); // gone, but not long enough
    const done = await processDisableIntents(ctx, { now: t0 + 1000 + 2 * 86_400_000 });
    expect(done).toEqual([expect.objectContaining({ zone, ok: true, signing: 'off' })]);
    const [after] = await dnssecStatus(ctx, [zone]);
    expect(after!.signing).toBe('off');
    expect(ctx.state().activity({ kind: 'dnssec' })[0]!.detail).toMatch(/Signing stopped for .* The DS had been gone since/);
    await waitUntilOk(async () => !(await l.digAuthoritative(zone, 'DNSKEY')).answers.some((a) => /\sDNSKEY\s/.test(a)), 'named to stop serving the DNSKEY');
  });
});

/** The fake Cloudflare signs the lab zone with BIND's tools, so its key and DS are what named serves. */
function labSigner(l: Lab) {
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
  const [host, port] = l.authoritative.split(':') as [string, string];
  return {
    sign(zone: string): FakeDnssecKey {
      const base = sh('dnssec-keygen', ['-q', '-K', l.keysDir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', zone]).trim().split('\n').pop()!;
      sh(l.rndcBase[0]!, [...l.rndcBase.slice(1), 'loadkeys', zone]);
      const [, flags, , alg, pub] = /DNSKEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/m.exec(sh('cat', [join(l.keysDir, `${base}.key`)]))!;
      const ds = sh('dnssec-dsfromkey', ['-2', join(l.keysDir, `${base}.key`)]).trim().split(/\s+/);
      return { keyTag: Number(ds[3]), algorithm: Number(alg), flags: Number(flags), publicKey: pub!.replace(/\s/g, ''), digest: ds[6]!.toLowerCase() };
    },
    unsign(zone: string) {
      for (const f of keyFiles(l, zone)) sh('dnssec-settime', ['-K', l.keysDir, '-I', 'now', '-D', 'now', join(l.keysDir, f)]);
      sh(l.rndcBase[0]!, [...l.rndcBase.slice(1), 'loadkeys', zone]);
    },
    dsAtParent(zone: string) {
      return sh('dig', [`@${host}`, '-p', port, '+norec', '+short', zone, 'DS']).trim() !== '';
    },
  };
}

describe('dnssec enable with Cloudflare (fake API signing the lab zone)', () => {
  it('enable → pending with the DS → registrar adds it → active and secure; a token without DNS edit: one clear line, nothing changed', async () => {
    const l = lab();
    const zone = `cfz.${l.parent}`;
    const cf = await startFakeCloudflare({ token: 'cf-full' });
    try {
      cf.fake.addToken('cf-read', { dnsEdit: false });
      cf.fake.addZone(zone, { dnssec: 'disabled' });
      cf.fake.dnssecSigner = labSigner(l);
      const config = (token: string) => ({ resolver: l.resolver, resolverProbeName: l.parent, dnssec: { servers: { [l.parent]: [l.authoritative] } }, zones: { [zone]: { provider: 'cloudflare' } }, cloudflare: { apiToken: token, baseURL: cf.url } });
      // Asynchronous: the fake API runs in this process and must keep answering.
      const cli = async (root: string, ...args: string[]) => {
        const r = await run([process.execPath, 'dist/cli.js', '--root', root, ...args], { timeoutMs: 60_000 });
        return { status: r.code, stdout: r.stdout, stderr: r.stderr };
      };

      const ro = testContext(config('cf-read'));
      const denied = await cli(ro.root.path('/'), 'dnssec', 'enable', zone, '--yes');
      expect(denied.status).toBe(1);
      expect(denied.stdout.trim().split('\n')[0]).toBe(`${zone}: REFUSED — The Cloudflare API token may not enable DNSSEC for ${zone}; nothing was changed.`);
      expect(denied.stdout).not.toContain('cf-read');
      expect(cf.fake.zoneNamed(zone).dnssec.status).toBe('disabled');
      expect(keyFiles(l, zone)).toEqual([]);

      const ctx = testContext(config('cf-full'));
      const en = await cli(ctx.root.path('/'), 'dnssec', 'enable', zone, '--yes', '--json');
      expect(en.status, en.stderr + en.stdout).toBe(0);
      const [row] = JSON.parse(en.stdout);
      expect(row).toMatchObject({ zone, ok: true, signer: 'cloudflare', signing: 'pending' });
      const dsfromkey = (await run(['dnssec-dsfromkey', '-2', join(l.keysDir, keyFiles(l, zone)[0]!)])).stdout.trim();
      const [, tag, , , digest] = /DS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-F]+)$/i.exec(dsfromkey)!;
      expect(row.ds).toEqual([{ keyTag: Number(tag), algorithm: 13, digestType: 2, digest: digest!.toLowerCase() }]);

      await waitUntilOk(async () => (await l.digAuthoritative(zone, 'DNSKEY')).answers.some((a) => /\sDNSKEY\s/.test(a)), 'named to serve the DNSKEY');
      await l.flushResolver();
      const [pending] = await dnssecStatus(ctx, [zone]);
      expect({ state: pending!.state, signing: pending!.signing }).toEqual({ state: 'signed-no-ds', signing: 'pending' });

      await l.setParentDs(zone, [dsfromkey]);
      await l.flushResolver();
      const [active] = await dnssecStatus(ctx, [zone]);
      expect({ state: active!.state, signing: active!.signing }).toEqual({ state: 'secure', signing: 'active' });
      expect(cf.fake.zoneNamed(zone).dnssec.status).toBe('active');
    } finally {
      await cf.fake.stop();
    }
  });
});

describe('enable guard: a DS at the parent that new keys will not match', () => {
  it('is refused (nothing changed) unless --force', async () => {
    const l = lab();
    const zone = `conflict.${l.parent}`;
    const { cli } = await cpanelRoot(l, 'powerdns', zone);
    const r = cli('dnssec', 'enable', zone, '--yes');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/REFUSED — The parent of conflict\.lab\.test already has DS \d+ 13 2, which new keys will not match: enabling would make .* bogus; nothing was changed\./);
    expect(keyFiles(l, zone)).toEqual([]);
    const forced = cli('dnssec', 'enable', zone, '--yes', '--force');
    expect(forced.status, forced.stdout).toBe(0);
    expect(keyFiles(l, zone)).toHaveLength(1);
  });
});
