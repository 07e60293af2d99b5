import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * Issue 28 on the Settings page: accountView.enabled (the account owners' cPanel page) and
 * accountView.notify (their e-mails) are saved through the same validation as the file; a bad
 * value or e-mails without the page are refused with a message and change nothing.
 */
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
const TOKEN = 'settings-account-view-token';
const html = () => ({ cookie, accept: 'text/html' });
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');
const saved = () => JSON.parse(readFileSync(configFile(), 'utf8'));
const base = () => ({ _csrf: csrf, ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', accountViewForm: '1' });
const post = (form: Record<string, string | string[]>) => http({ port }, 'POST', '/settings', { headers: { cookie }, form });
const page = async () => (await http({ port }, 'GET', '/settings', { headers: html() })).body;

beforeAll(async () => {
  fx = await demoFixture();
  ({ srv, port, cookie } = await signedIn(fx.context(), TOKEN));
  csrf = csrfFrom(await page());
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe("the account owners' settings", () => {
  it('shows the page on and the e-mails off by default', async () => {
    const p = await page();
    expect(p).toContain('<input type="checkbox" name="accountViewEnabled" value="1" checked>');
    expect(p).toContain('<input type="checkbox" name="accountViewNotify" value="1">');
  });

  it('saves the e-mails on, then the page and the e-mails off, to the config file', async () => {
    const on = await post({ ...base(), accountViewEnabled: '1', accountViewNotify: '1' });
    expect(on.status).toBe(303);
    expect(saved().accountView).toEqual({ enabled: true, notify: true });
    expect(await page()).toContain('<input type="checkbox" name="accountViewNotify" value="1" checked>');
    expect((await post({ ...base() })).status).toBe(303);
    expect(saved().accountView).toEqual({ enabled: false, notify: false });
    // A form without the section (an older page) leaves the saved choice alone.
    const { accountViewForm: _f, ...older } = base();
    expect((await post({ ...older, accountViewEnabled: '1' })).status).toBe(303);
    expect(saved().accountView).toEqual({ enabled: false, notify: false });
    expect((await post({ ...base(), accountViewEnabled: '1' })).status).toBe(303);
    expect(saved().accountView).toEqual({ enabled: true, notify: false });
  });

  it('refuses e-mails without the page, or a box value that is not a tick, and the file stays byte for byte', async () => {
    const before = readFileSync(configFile());
    const cases: [Record<string, string>, string][] = [
      [{ accountViewNotify: '1' }, 'E-mail account owners: the mails need the account owners’ page'],
      [{ accountViewEnabled: 'yes' }, 'Account owners’ page: the box is either ticked or not.'],
      [{ accountViewEnabled: '1', accountViewNotify: '<b>x</b>' }, 'E-mail account owners: the box is either ticked or not.'],
    ];
    for (const [form, message] of cases) {
      const r = await post({ ...base(), ...form });
      expect(r.status, message).toBe(400);
      expect(r.body).toContain('<strong>Not saved.</strong>');
      expect(r.body).toContain(message);
      expect(r.body).not.toContain('<b>x</b>');
    }
    expect(readFileSync(configFile()).equals(before)).toBe(true);
  });

  it('refuses a save without the CSRF token and changes nothing', async () => {
    const before = readFileSync(configFile());
    const { _csrf: _c, ...form } = base();
    const r = await post({ ...form, accountViewEnabled: '1', accountViewNotify: '1' });
    expect(r.status).toBe(403);
    expect(readFileSync(configFile()).equals(before)).toBe(true);
  });
});
