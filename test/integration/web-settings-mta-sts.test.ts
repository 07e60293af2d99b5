import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, saveConfig } from '../../src/state/config.js';
import type { RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * Issue 27 §1 on the Settings page: mtaSts (publish, start mode, both max_age values, mxWildcard,
 * autoEnforce) saved through the same validation as the file; a refusal changes nothing; caFile
 * (the lab's CA) is not on the page and survives every save; an older form leaves it all alone.
 */
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
const TOKEN = 'settings-mta-sts-token';
const html = () => ({ cookie, accept: 'text/html' });
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');
const saved = () => JSON.parse(readFileSync(configFile(), 'utf8'));
const section = () => ({
  mtaStsForm: '1',
  mtaStsPublish: 'off',
  mtaStsDomains: '',
  mtaStsMode: 'testing',
  mtaStsMaxAgeTesting: '86400',
  mtaStsMaxAgeEnforce: '1209600',
  mtaStsAfterDays: '14',
});
const base = () => ({ _csrf: csrf, ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', ...section() });
const post = (form: Record<string, string | string[]>) => http({ port }, 'POST', '/settings', { headers: { cookie }, form });
const page = async () => (await http({ port }, 'GET', '/settings', { headers: html() })).body;

beforeAll(async () => {
  fx = await demoFixture();
  // The lab's CA file is set in the file only (not on the page); no save may drop it.
  saveConfig(configFile(), { ...loadConfig(configFile()), mtaSts: { ...loadConfig(configFile()).mtaSts, caFile: '/etc/lab-ca.pem' } });
  ({ srv, port, cookie } = await signedIn(fx.context(), TOKEN));
  csrf = csrfFrom(await page());
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe('the MTA-STS settings', () => {
  it('shows the defaults: off, testing, a day, two weeks, no wildcard, no auto-enforce after 14 days; no CA file field', async () => {
    const p = await page();
    expect(p).toContain('<input type="radio" name="mtaStsPublish" value="off" checked>');
    expect(p).toContain('<option value="testing" selected>');
    expect(p).toContain('name="mtaStsMaxAgeTesting" value="86400"');
    expect(p).toContain('name="mtaStsMaxAgeEnforce" value="1209600"');
    expect(p).toContain('<input type="checkbox" name="mtaStsMxWildcard" value="1">');
    expect(p).toContain('<input type="checkbox" name="mtaStsAutoEnforce" value="1">');
    expect(p).toContain('name="mtaStsAfterDays" value="14"');
    expect(p).not.toMatch(/caFile/i);
  });

  it('saves every field to the config file, shows it back, names it in the activity log, and keeps caFile', async () => {
    const r = await post({
      ...base(),
      mtaStsPublish: 'list',
      mtaStsDomains: 'Alpha-Demo.test\r\n\r\n  bravo-demo.test \r\nalpha-demo.test\r\n',
      mtaStsMode: 'enforce',
      mtaStsMaxAgeTesting: '3600',
      mtaStsMaxAgeEnforce: '31557600',
      mtaStsMxWildcard: '1',
      mtaStsAutoEnforce: '1',
      mtaStsAfterDays: '30',
    });
    expect(r.status).toBe(303);
    expect(saved().mtaSts).toEqual({
      publish: ['alpha-demo.test', 'bravo-demo.test'],
      mode: 'enforce',
      maxAgeTesting: 3600,
      maxAgeEnforce: 31557600,
      mxWildcard: true,
      autoEnforce: { enabled: true, afterDays: 30 },
      caFile: '/etc/lab-ca.pem',
    });
    const p = await page();
    expect(p).toContain('<input type="radio" name="mtaStsPublish" value="list" checked>');
    expect(p).toContain('alpha-demo.test\nbravo-demo.test</textarea>');
    expect(p).toContain('<option value="enforce" selected>');
    expect(p).toContain('<input type="checkbox" name="mtaStsMxWildcard" value="1" checked>');
    expect(p).toContain('<input type="checkbox" name="mtaStsAutoEnforce" value="1" checked>');
    expect(p).not.toContain('/etc/lab-ca.pem');
    const activity = (await http({ port }, 'GET', '/activity', { headers: html() })).body;
    expect(activity).toContain('Changed: MTA-STS.');

    // Boxes unticked, all domains.
    expect((await post({ ...base(), mtaStsPublish: 'all' })).status).toBe(303);
    expect(saved().mtaSts).toEqual({ publish: 'all', mode: 'testing', maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false, autoEnforce: { enabled: false, afterDays: 14 }, caFile: '/etc/lab-ca.pem' });

    // A form without the section (an older page) leaves it alone, and the log does not name it.
    const { mtaStsForm: _f, ...older } = base();
    expect((await post({ ...older, mtaStsPublish: 'off', mtaStsMode: 'enforce' })).status).toBe(303);
    expect(saved().mtaSts.publish).toBe('all');
    expect(saved().mtaSts.mode).toBe('testing');
    const after = (await http({ port }, 'GET', '/activity', { headers: html() })).body;
    expect(after).toContain('Saved without changes.');
  });

  it('refuses each bad value with a message naming it, shows what was typed escaped, and the file stays byte for byte', async () => {
    const before = readFileSync(configFile());
    const cases: [Record<string, string>, string][] = [
      [{ mtaStsPublish: 'sometimes' }, 'MTA-STS: choose Off, All domains or Only these domains.'],
      [{ mtaStsPublish: 'list', mtaStsDomains: '\n \n' }, 'MTA-STS: &#34;Only these domains&#34; is chosen but no domain is listed.'],
      [{ mtaStsPublish: 'list', mtaStsDomains: 'alpha-demo.test\nx..test' }, 'MTA-STS: &#34;x..test&#34; is not a domain name: has an empty label (two dots in a row).'],
      [{ mtaStsMode: 'none' }, 'MTA-STS: the start mode is either Testing or Enforce.'],
      [{ mtaStsMxWildcard: 'yes' }, 'MTA-STS: “*.parent” patterns: the box is either ticked or not.'],
      [{ mtaStsAutoEnforce: '<b>x</b>' }, 'MTA-STS: Move to enforce on evidence: the box is either ticked or not.'],
      [{ mtaStsMaxAgeTesting: '1.5' }, 'MTA-STS: max_age while testing: &#34;1.5&#34; is not a whole number.'],
      [{ mtaStsMaxAgeEnforce: '' }, 'MTA-STS: max_age under enforce: &#34;&#34; is not a whole number.'],
      [{ mtaStsAfterDays: '-1' }, 'MTA-STS: days of clean evidence: &#34;-1&#34; is not a whole number.'],
      // The ranges are config.ts's rule (RFC 8461 §3.2 caps max_age at 31557600).
      [{ mtaStsMaxAgeTesting: '60' }, 'mtaSts.maxAgeTesting:'],
      [{ mtaStsMaxAgeEnforce: '31557601' }, 'mtaSts.maxAgeEnforce:'],
      [{ mtaStsAfterDays: '0' }, 'mtaSts.autoEnforce.afterDays:'],
      [{ mtaStsAfterDays: '366' }, 'mtaSts.autoEnforce.afterDays:'],
    ];
    for (const [form, message] of cases) {
      const r = await post({ ...base(), ...form });
      expect(r.status, message).toBe(400);
      expect(r.body).toContain('<strong>Not saved.</strong>');
      expect(r.body, message).toContain(message);
      expect(r.body).not.toContain('<b>x</b>');
    }
    const hostile = await post({ ...base(), mtaStsPublish: 'list', mtaStsDomains: '<script>alert(1)</script>.test', mtaStsMaxAgeTesting: '"><img src=x>' });
    expect(hostile.status).toBe(400);
    expect(hostile.body).not.toContain('<script>alert(1)');
    expect(hostile.body).not.toContain('<img src=x>');
    expect(hostile.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.test</textarea>');
    expect(readFileSync(configFile()).equals(before)).toBe(true);
  });

  it('refuses a save without the CSRF token and changes nothing', async () => {
    const before = readFileSync(configFile());
    const { _csrf: _c, ...form } = base();
    const r = await post({ ...form, mtaStsPublish: 'off', mtaStsMode: 'enforce' });
    expect(r.status).toBe(403);
    expect(readFileSync(configFile()).equals(before)).toBe(true);
  });
});
