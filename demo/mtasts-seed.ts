import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoManifest } from './build-root.js';
import { DemoError } from './util.js';

/**
 * MTA-STS in the demo (issue 27 §6): two domains in testing, one enforced, one broken. The demo
 * network has no HTTPS face on port 443 (it runs unprivileged, and senders fetch policies only
 * from 443), so what a server would have proven is seeded instead, through the shipped stores
 * (dist/mtasts/store.js, checks-store.js, policy.js: the product's own policy text and id, no copy
 * here): each domain's mode since before its first check, the policy as served, and the checks
 * the timer would have run: alpha clean for five
 * days (the enforce countdown), bravo clean, foxtrot enforced and clean, charlie enforced with an
 * MX certificate senders refuse (broken). Publish then announces the served ids (_mta-sts TXT).
 */
export const MTA_STS_DEMO: { domain: string; mode: 'testing' | 'enforce'; broken?: boolean; cleanDays: number }[] = [
  { domain: 'alpha-demo.test', mode: 'testing', cleanDays: 5 },
  { domain: 'bravo-demo.test', mode: 'testing', cleanDays: 1 },
  { domain: 'foxtrot-demo.test', mode: 'enforce', cleanDays: 2 },
  { domain: 'charlie-demo.test', mode: 'enforce', broken: true, cleanDays: 1 },
];

/** Written once the demo's MTA-STS states were seeded (first start only). */
const SEEDED_MARKER = '.tlsa-manager-demo-mtasts-seeded';

/** Runs in a child with the shipped modules (dist/), on the demo root's state database. */
const SEED_SCRIPT = `
import { createRequire } from 'node:module';
const [dist, dbPath, json] = process.argv.slice(1);
const Database = createRequire(dist + '/cli.js')('better-sqlite3');
const { MtaStsStore } = await import(dist + '/mtasts/store.js');
const { MtaStsChecks } = await import(dist + '/mtasts/checks-store.js');
const { policyText, policyId } = await import(dist + '/mtasts/policy.js');
const { problem } = await import(dist + '/problem.js');
const db = new Database(dbPath);
const store = new MtaStsStore(db);
const checks = new MtaStsChecks(db);
const { domains, settings, now } = JSON.parse(json);
const DAY = 86400000;
for (const d of domains) {
  const text = policyText(d.mode, d.mx, settings);
  const id = policyId(text);
  // In its mode since before the first check (the product's own ensure; it never changes an existing mode).
  store.ensure(d.domain, d.mode, new Date(now - d.cleanDays * DAY - 7200000).toISOString());
  const state = store.get(d.domain);
  store.markServed(d.domain, text, id, new Date(now - d.cleanDays * DAY - 3600000).toISOString());
  const maxAge = d.mode === 'enforce' ? settings.maxAgeEnforce : settings.maxAgeTesting;
  const base = { domain: d.domain, state: d.mode, id, policy: { mode: d.mode, mx: d.mx, maxAge }, served: true, certificate: { subject: 'CN=mta-sts.' + d.domain, issuer: 'C=US, O=Demo CA, CN=Demo R10', notAfter: new Date(now + 60 * DAY).toISOString() }, mx: d.mx.map((host) => ({ host, address: d.address, covered: true, certificateValid: true })), problems: [] };
  for (let day = d.cleanDays - 1; day >= 0; day--) {
    const at = now - day * DAY - 1800000;
    if (at > Date.parse(state.modeSince)) checks.record(base, at);
  }
  if (d.broken) {
    const host = d.mx[0];
    checks.record({ ...base, state: 'broken', mx: [{ host, address: d.address, covered: true, certificateValid: false, detail: 'the certificate is not valid for ' + host + ' (self-signed in this demo)' }],
      problems: [problem('mta-sts-mx-certificate-invalid', 'The certificate ' + host + ' presents is not valid for MTA-STS senders: self-signed.', { subject: d.domain, fix: 'Install a certificate from a public CA for ' + host + ' on Exim (WHM » Manage Service SSL Certificates, or AutoSSL for the hostname) with the full chain; MTA-STS needs a CA chain, the MX name and valid dates (DANE-EE does not).' })] }, now - 600000);
  }
}
db.close();
`;

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** A new root's first start: the four domains' modes, served policies and checks. */
export async function seedMtaSts(cli: string, dir: string, manifest: DemoManifest, settings: { maxAgeTesting: number; maxAgeEnforce: number; mxWildcard: boolean }): Promise<string | null> {
  if (existsSync(join(dir, SEEDED_MARKER))) return null;
  const fail = (what: string, out: string) => new DemoError('demo-seed-failed', `${what} failed: ${out.trim().slice(0, 500)}`, `Delete ${dir} and start again.`);
  const domains = [];
  for (const s of MTA_STS_DEMO) {
    const d = manifest.domains.find((x) => x.name === s.domain);
    if (!d) throw fail(`MTA-STS seed (${s.domain} is not in the demo manifest)`, '');
    domains.push({ ...s, mx: d.mx.map((m) => m.host), address: d.ip });
  }
  const dist = join(cli, '..');
  const r = await run(['--input-type=module', '-e', SEED_SCRIPT, dist, join(dir, 'var/lib/tlsa-manager/state.db'), JSON.stringify({ domains, settings, now: Date.now() })], {});
  if (r.code !== 0) throw fail('the MTA-STS seed', r.out);
  writeFileSync(join(dir, SEEDED_MARKER), 'MTA-STS states of the demo seeded.\n');
  return MTA_STS_DEMO.map((s) => `${s.domain} ${s.broken ? 'broken (enforce)' : s.mode}`).join(', ');
}
