import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainStatus } from '../../src/access/status.js';
import { CATEGORIES } from '../../src/dane/category.js';
import { requireComponents } from '../helpers/components.js';

/**
 * The account owners' page (plugin/cpanel/tlsa_manager/index.html.tt) rendered by Template
 * Toolkit inside the Jupiter chrome stand-in, from answers shaped as the account door gives them:
 * the warnings an owner must see ahead (a renewal that breaks the records at their DNS host) and
 * the MTA-STS line, every customer-written value escaped.
 */
const REPO = resolve('.');
let theme: string;

beforeAll(() => {
  requireComponents('cPanel page template', ['perl']);
  expect(spawnSync('perl', ['-MTemplate', '-e', '1']).status, 'Template Toolkit (libtemplate-perl)').toBe(0);
  theme = mkdtempSync(join(tmpdir(), 'tlsa-tt-'));
  mkdirSync(join(theme, '_assets'));
  mkdirSync(join(theme, 'tlsa_manager'));
  copyFileSync(join(REPO, 'test/fakes/jupiter/_assets/master.html.tt'), join(theme, '_assets/master.html.tt'));
  for (const f of readdirSync(join(REPO, 'plugin/cpanel/tlsa_manager'))) copyFileSync(join(REPO, 'plugin/cpanel/tlsa_manager', f), join(theme, 'tlsa_manager', f));
});
afterAll(() => theme && rmSync(theme, { recursive: true, force: true }));

const base: DomainStatus = { domain: 'away.test', mail: 'here', dnsHost: 'elsewhere', dane: { category: 'valid', problems: [] }, dnssec: { state: 'unsigned', ds: [], parentDs: [] }, recordsByHand: [], tlsrpt: null, renewalBreaks: null, mtaSts: { mode: 'off', state: null, checkedAt: null, problems: [] } };

function render(domains: DomainStatus[]): string {
  const words = { categories: Object.fromEntries(Object.entries(CATEGORIES).map(([k, c]) => [k, { label: c.label, explain: c.explain }])) };
  const file = join(theme, `answer-${domains.length}-${Math.random()}.json`);
  writeFileSync(file, JSON.stringify({ 'TLSAManager::status': { status: 1, data: { account: 'alice', domains, notify: { offered: false, enabled: true }, words }, errors: [] } }));
  const r = spawnSync('perl', [join(REPO, 'test/fakes/jupiter/render.pl'), theme, 'tlsa_manager/index.html.tt', file], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

const section = (html: string, domain: string) => html.slice(html.indexOf(`data-domain="${domain}"`), html.indexOf('</section>', html.indexOf(`data-domain="${domain}"`)));

describe("the owner's page warns ahead and names MTA-STS", () => {
  it('a renewal that breaks the records at their DNS host: a warning with the date, only on that domain', () => {
    const html = render([{ ...base, renewalBreaks: '2027-01-02T03:04:05.000Z' }, { ...base, domain: 'fine.test' }]);
    const away = section(html, 'away.test');
    expect(away).toContain('will break at your next certificate renewal');
    expect(away).toContain('renewed by about 2027-01-02, with a new key');
    expect(away).toMatch(/class="tlsam-todo tlsam-renewal" role="alert"/);
    expect(section(html, 'fine.test')).not.toContain('tlsam-renewal');
  });

  it('MTA-STS: enforce and testing in words, nothing when off', () => {
    const sts = (mode: 'testing' | 'enforce', state: DomainStatus['mtaSts']['state'], problems: DomainStatus['mtaSts']['problems'] = []) => ({ mode, state, checkedAt: '2026-12-06T00:00:00.000Z', problems });
    const mxBad = { code: 'mta-sts-mx-certificate-invalid' as const, message: 'mail.<b>bad</b>.test shows a certificate no CA signed.', fix: 'Install a CA certificate.' };
    const html = render([
      { ...base, domain: 'on.test', mtaSts: sts('enforce', 'enforce') },
      { ...base, domain: 'try.test', mtaSts: sts('testing', 'testing', [mxBad]) },
      { ...base, domain: 'bad.test', mtaSts: sts('enforce', 'broken', [mxBad]) },
      { ...base, domain: 'off.test' },
    ]);
    expect(section(html, 'on.test')).toContain('MTA-STS (the protection Gmail, Yahoo and others check): on.');
    expect(section(html, 'on.test')).not.toContain('tlsam-sts-problem');
    expect(section(html, 'try.test')).toContain('MTA-STS (the protection Gmail, Yahoo and others check): testing.');
    expect(section(html, 'try.test')).toContain('mail.&lt;b&gt;bad&lt;/b&gt;.test shows a certificate no CA signed. <strong>What to do:</strong> Install a CA certificate.');
    expect(section(html, 'bad.test')).toContain('a check found what makes those senders refuse to deliver');
    expect(section(html, 'bad.test')).not.toContain('): on.');
    expect(section(html, 'off.test')).not.toContain('MTA-STS');
  });

  it('a hostile value in the warning date is escaped', () => {
    const html = render([{ ...base, renewalBreaks: '<img src=x onerror=alert(1)>' }]);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x');
  });
});
