import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { saveConfig } from '../../src/state/config.js';
import { join } from 'node:path';
import type { RunningServer } from '../../src/web/server.js';
import { makePlan } from '../../src/plan/run.js';
import { Providers } from '../../src/provider-instances.js';
import { auditCsv, auditRows } from '../../src/report/audit.js';
import { auditInput } from '../../src/plan/view.js';
import { publishedMarks } from '../../src/checks/scheduled.js';
import { recordStatuses } from '../../src/dnssec/watch.js';
import type { DnssecStatus } from '../../src/dnssec/status.js';
import { opensslTlsaData } from '../helpers/openssl.js';
import { csrfFrom, demoFixture, http, waitForJob, type DemoFixture, signedIn } from './web-fixture.js';

let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
const TOKEN = 'pages-test-token';
const html = () => ({ cookie, accept: 'text/html' });
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');

beforeAll(async () => {
  fx = await demoFixture();
  // One zone marked "not managed here", so its MX host's records must be added by hand.
  const cfg = JSON.parse(readFileSync(configFile(), 'utf8'));
  saveConfig(configFile(), { ...cfg, zones: { 'bravo-demo.test': { provider: 'none' } } });
  // One account prefers ECDSA keys (cPanel » SSL/TLS » default key type): its next AutoSSL key is ECDSA.
  const users = join(fx.root, 'var/cpanel/users/tlsa');
  writeFileSync(users, `${readFileSync(users, 'utf8')}SSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\n`);
  const ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
  csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: html() })).body);
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe('pages', () => {
  it('overview shows a server-rendered chart, the server facts and the renewal list', async () => {
    const r = await http({ port }, 'GET', '/', { headers: html() });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/<svg class="chart"/);
    for (const label of ['Valid', 'Broken', 'Not protected', 'Not ours']) expect(r.body).toContain(`>${label}</text>`);
    expect(r.body).toContain(fx.manifest.hostname);
    // The demo's expired certificate is in the "renewing in 30 days" list.
    const expired = fx.manifest.cases['expired-cert']![0]!;
    expect(r.body).toContain(expired);
  });

  it('domain list filters, searches, sorts and paginates on the server', async () => {
    const all = await http({ port }, 'GET', '/domains?per=25', { headers: html() });
    const total = srv.web.snapshot.current()!.rows.length;
    expect(total).toBeGreaterThanOrEqual(fx.manifest.domains.length);
    expect(all.body).toContain(`<strong>${total}</strong> domains`);
    const remote = fx.manifest.cases['mx-remote']![0]!;
    const notOurs = await http({ port }, 'GET', '/domains?category=not-ours', { headers: html() });
    expect(notOurs.body).toContain(`>${remote}</a>`);
    expect(notOurs.body).not.toContain('>alpha-demo.test</a>');
    const search = await http({ port }, 'GET', '/domains?q=BRAVO', { headers: html() });
    expect(search.body).toContain('<strong>1</strong> domain of');
    const owner = await http({ port }, 'GET', '/domains?owner=alpha', { headers: html() });
    const alphaCount = srv.web.snapshot.current()!.rows.filter((r) => r.owner === 'alpha').length;
    expect(alphaCount).toBeGreaterThanOrEqual(fx.manifest.domains.filter((d) => d.user === 'alpha').length);
    expect(owner.body).toContain(`<strong>${alphaCount}</strong> domains of`);
    const desc = await http({ port }, 'GET', '/domains?sort=domain&dir=desc&per=25', { headers: html() });
    const names = [...desc.body.matchAll(/name="domain" value="([^"]+)"/g)].map((m) => m[1]!);
    expect(names).toEqual([...names].sort().reverse());
    const paged = await http({ port }, 'GET', '/domains?per=25&page=1&tlsa=nonsense&sort=nonsense', { headers: html() });
    expect(paged.status).toBe(200);
  });

  it('domain detail shows certificate, expected records and the zone lines for a zone not managed here', async () => {
    const r = await http({ port }, 'GET', '/domains/bravo-demo.test', { headers: html() });
    expect(r.status).toBe(200);
    expect(r.body).toContain('Add these records at the zone’s DNS provider');
    expect(r.body).toMatch(/_25\._tcp\.mail\.bravo-demo\.test\. \d+ IN TLSA 3 1 1 [0-9a-f]{64}/);
    const existing = fx.manifest.existingTlsa[0]!;
    const d = fx.manifest.domains.find((x) => x.zone === existing.zone)!;
    const t = await http({ port }, 'GET', `/domains/${d.name}`, { headers: html() });
    expect(t.body).toContain('Served certificate');
    expect(t.body).toContain(existing.correct.slice(0, 24));
  });

  it('domain detail names the zone\'s provider instance, its kind and the server it talks to (issue 25)', async () => {
    const existing = fx.manifest.existingTlsa[0]!;
    const d = fx.manifest.domains.find((x) => x.zone === existing.zone)!;
    const t = await http({ port }, 'GET', `/domains/${d.name}`, { headers: html() });
    expect(t.body).toContain(`${existing.zone} · provider cpanel (cPanel (this server) · this server)`);
  });

  it("domain detail names the next certificate's key: the account's preference, else the server's default", async () => {
    const own = await http({ port }, 'GET', '/domains/tlsa-demo.test', { headers: html() });
    expect(own.body).toMatch(/<dt>Key<\/dt><dd>rsa · SPKI SHA-256 .*next certificate: ECDSA P-256 \(account preference\)/);
    const other = await http({ port }, 'GET', '/domains/bravo-demo.test', { headers: html() });
    expect(other.body).toContain('next certificate: RSA 2048 (server default)');
  });

  it('escapes hostile certificate text everywhere it is shown', async () => {
    const xss = fx.manifest.cases['hostile-cert-text']![0]!;
    const r = await http({ port }, 'GET', `/domains/${xss}`, { headers: html() });
    expect(r.status).toBe(200);
    // The subject is shown in RFC 4514 form (which backslash-escapes < > " ), then HTML-escaped.
    expect(r.body).toMatch(/\\?&lt;script\\?&gt;alert\(1\)\\?&lt;\/script\\?&gt;/);
    expect(r.body).toMatch(/\\?&lt;img src=x onerror=alert\(2\)\\?&gt;/);
    expect(r.body).not.toContain('<script>alert');
    expect(r.body).not.toContain('<img src=x');
    expect(r.body).not.toMatch(/"'>/);
  });

  it('rejects bad domain parameters with 400 and a clear message', async () => {
    const bad = ['/domains/..%2F..%2Fetc%2Fpasswd', '/domains/a%00b.test', '/domains/a;rm%20-rf.test', '/domains/%24(id).test', '/?route=%2Fdomains%2Fa%2500b'];
    for (const path of bad) {
      const r = await http({ port }, 'GET', path, { headers: html() });
      expect(r.status, path).toBe(400);
      expect(r.body).toMatch(/not a valid (domain name|page path)/);
    }
    const route = await http({ port }, 'GET', '/?route=%2Fdomains%2Fa%00b', { headers: html() });
    expect(route.status).toBe(400);
    const job = await http({ port }, 'POST', '/jobs', { headers: { cookie }, form: { _csrf: csrf, action: 'check', domain: ['alpha-demo.test', '../../etc'] } });
    expect(job.status).toBe(400);
    const zone = await http({ port }, 'POST', '/settings/test-cloudflare', { headers: { cookie }, form: { _csrf: csrf, testZone: 'a;b' } });
    expect(zone.status).toBe(400);
    const unknown = await http({ port }, 'GET', '/domains/not-on-this-server.test', { headers: html() });
    expect(unknown.status).toBe(404);
    expect(srv.web.jobs.list()).toHaveLength(0);
  });
});

describe('settings', () => {
  it('saves a Cloudflare token with mode 0600 and never shows it again', async () => {
    const secret = 'cf-token-abcdefghijklmnopqrstuvwxyz-123456';
    const save = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { _csrf: csrf, apiToken: secret, ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', zone: ['', ''], provider: ['cloudflare', 'cloudflare'] } });
    expect(save.status).toBe(303);
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).cloudflare.apiToken).toBe(secret);
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    for (const path of ['/settings', '/settings?saved=1', '/activity', '/']) {
      const r = await http({ port }, 'GET', path, { headers: html() });
      expect(r.body).not.toContain(secret);
      expect(r.body).not.toContain(secret.slice(0, 12));
    }
    const page = await http({ port }, 'GET', '/settings', { headers: html() });
    expect(page.body).toMatch(/id="apiToken" name="apiToken" type="password" value=""/);
    // An empty token field keeps the saved token; a failed save does not echo a new one.
    await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { _csrf: csrf, apiToken: '', ports: '25', records: '3 1 1', ttl: '3600' } });
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).cloudflare.apiToken).toBe(secret);
    const bad = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { _csrf: csrf, apiToken: 'new-secret-value-xyz', ports: '25', records: '3 1 1', ttl: 'soon' } });
    expect(bad.status).toBe(400);
    expect(bad.body).not.toContain('new-secret-value-xyz');
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).cloudflare.apiToken).toBe(secret);
  });

  it('explains invalid settings precisely and saves nothing', async () => {
    const before = readFileSync(configFile(), 'utf8');
    const cases: [Record<string, string | string[]>, RegExp][] = [
      [{ ports: '25, smtp', records: '3 1 1', ttl: '3600' }, /Ports: &#34;smtp&#34; is not a port number/],
      [{ ports: '25', records: '3 1 1', ttl: '10' }, /policy\.ttl/],
      [{ ports: '70000', records: '3 1 1', ttl: '3600' }, /policy\.ports/],
      [{ ports: '25', records: '3 1 1', ttl: '3600', zone: 'bad zone!.test', provider: 'cloudflare' }, /Zones: &#34;bad zone!\.test&#34; is not a valid zone name: contains whitespace/],
      [{ ports: '25', records: '3 1 1', ttl: '3600', resolver: 'dns.example' }, /resolver: must be IP or IP:PORT/],
      [{ ports: '25', ttl: '3600' }, /policy\.records/],
    ];
    for (const [form, message] of cases) {
      const r = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { _csrf: csrf, ...form } });
      expect(r.status).toBe(400);
      expect(r.body).toMatch(message);
    }
    expect(readFileSync(configFile(), 'utf8')).toBe(before);
  });
});

describe('causes named by the last check', () => {
  it('the domain page and the audit export (the rows of `audit`) show each cause with its fix, and the answer size per owner', async () => {
    const ctx = fx.context();
    const domain = 'bravo-demo.test';
    const host = `mail.${domain}`;
    const owner = `_25._tcp.${host}`;
    const cause = { code: 'dane-ta-leaf-only', severity: 'error', subject: host, message: `${host} [127.0.0.1]:25 sends only its own certificate <b>leaf</b>, no intermediate.`, fix: 'Install the certificate together with its CA bundle.' };
    const large = { code: 'tlsa-answer-large', severity: 'warning', subject: owner, message: `The signed TLSA answer at ${owner} (20 record(s)) is 1301 bytes, over the 1232-byte EDNS buffer.`, fix: 'Publish fewer TLSA records at this owner.' };
    const stored = {
      domain, time: new Date().toISOString(), verdict: 'tlsa-mismatch', message: cause.message, fix: cause.fix, mxSecure: true, dnssec: { signed: true, ds: true },
      mx: [{ host, preference: 10, expandedHost: host, addressesSecure: true, addresses: ['127.0.0.1'], tlsaOwner: owner, tlsaSecure: true, tlsa: [], verdict: 'tlsa-mismatch', message: cause.message,
        tlsaAnswers: [{ owner, port: 25, records: 20, bytes: 1301, truncated: true, authoritative: { server: '127.0.0.1:53', bytes: 1647, truncated: true } }, { owner: `_465._tcp.${host}`, port: 465, records: 2, bytes: 402, truncated: false }],
        ports: [{ port: 25, address: '127.0.0.1', verdict: 'tlsa-mismatch', message: cause.message, problems: [cause] }], problems: [large, cause] }],
      problems: [large, cause],
    };
    ctx.state().saveCheck(domain, 'tlsa-mismatch', stored, stored.time);
    await srv.web.snapshot.refresh();

    const page = await http({ port }, 'GET', `/domains/${domain}`, { headers: html() });
    expect(page.body).toContain('Causes and warnings');
    expect(page.body).toContain('sends only its own certificate &lt;b&gt;leaf&lt;/b&gt;, no intermediate.');
    expect(page.body).not.toContain('<b>leaf</b>');
    expect(page.body).toContain('Fix: Install the certificate together with its CA bundle.');
    expect(page.body).toMatch(/<li class="sev-warning"><span class="msg">The signed TLSA answer at _25\._tcp\.mail\.bravo-demo\.test \(20 record\(s\)\) is 1301 bytes/);
    expect(page.body).toMatch(/<span class="badge warn">TCP<\/span> signed TLSA answer at _25\._tcp\.mail\.bravo-demo\.test: 20 record\(s\), 1301 bytes \(1647 bytes from 127\.0\.0\.1:53, as resolvers get it\), truncated/);
    expect(page.body).toMatch(/<span class="badge ok">fits<\/span> signed TLSA answer at _465\._tcp\.mail\.bravo-demo\.test: 2 record\(s\), 402 bytes/);

    const json = JSON.parse((await http({ port }, 'GET', '/export/audit.json', { headers: { cookie } })).body) as { domain: string; checkProblems: { code: string; fix?: string }[] }[];
    expect(json.find((r) => r.domain === domain)!.checkProblems.map((p) => [p.code, p.fix])).toEqual([[large.code, large.fix], [cause.code, cause.fix]]);
    const csv = (await http({ port }, 'GET', '/export/audit.csv', { headers: { cookie } })).body.split('\r\n');
    expect(csv.find((l) => l.startsWith(`${domain},`))!.endsWith(',tlsa-answer-large dane-ta-leaf-only,,,off')).toBe(true);
  });
});

describe('exports and jobs', () => {
  it('exports the same CSV and JSON as the audit command', async () => {
    await srv.web.snapshot.refresh();
    const ctx = fx.context();
    const plan = await makePlan(ctx, new Providers(ctx), { kinds: true });
    const expected = auditCsv(auditRows(auditInput(plan), ctx.state().latestChecks(), undefined, undefined, publishedMarks(ctx.state())).sort((a, b) => (a.domain < b.domain ? -1 : 1)));
    const csv = await http({ port }, 'GET', '/export/audit.csv', { headers: { cookie } });
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toContain('tlsa-audit.csv');
    expect(csv.body.split('\r\n')[0]).toBe('domain,owner,kind,mail,mxHosts,mxHere,zone,provider,tlsa,pendingChanges,certNotAfter,certIssuer,verdict,category,lastChecked,changedAt,recheckAt,dnssec,dnssecReason,signing,problems,problemCodes,checkProblems,tlsrptSuccessful7d,tlsrptFailed7d,mtaSts');
    expect(csv.body).toBe(expected);
    const json = JSON.parse((await http({ port }, 'GET', '/export/audit.json', { headers: { cookie } })).body) as { domain: string; haystack?: string }[];
    expect(json.map((r) => r.domain)).toContain('alpha-demo.test');
    expect(json[0]!.haystack).toBeUndefined();
    expect(json).toHaveLength(srv.web.snapshot.current()!.rows.length);
  });

  it('runs a check in the background and shows the verdict afterwards', async () => {
    const r = await http({ port }, 'POST', '/domains/alpha-demo.test/check', { headers: { cookie }, form: { _csrf: csrf } });
    expect(r.status).toBe(303);
    const id = /job=([0-9a-f]+)/.exec(String(r.headers.location))![1]!;
    const job = await waitForJob({ port }, `/api/jobs/${id}`, { cookie });
    expect(job.status).toBe('done');
    expect(job.summary).toContain('1 domain(s) checked');
    const page = await http({ port }, 'GET', `/domains/alpha-demo.test?job=${id}`, { headers: html() });
    expect(page.body).toContain('No DNSSEC');
    expect(page.body).toContain('DNSSEC chain as a sender sees it');
    expect(page.body).toContain('<span class="badge error">no</span> the zone of alpha-demo.test is signed');
    expect(page.body).toContain('<span class="badge error">no</span> the MX records are DNSSEC-secure');
    const list = await http({ port }, 'GET', '/domains?verdict=no-dnssec', { headers: html() });
    expect(list.body).toContain('<strong>1</strong> domain of');
  });

  it('DNSSEC: column, filter, and a panel with the DS to hand over (zone-file line, registrar fields, DNSKEY, copy buttons)', async () => {
    const ctx = fx.context();
    const zone = 'alpha-demo.test';
    // The RFC 4034 §5.4 key and DS: fixed values, not produced by the code under test.
    const status: DnssecStatus = {
      zone, state: 'signed-no-ds', reason: null, signing: 'active', parent: 'test', message: `${zone} is signed but its parent has no DS for it.`, fix: 'Give the DS shown here to the registrar.',
      ds: [{ keyTag: 60485, algorithm: 5, digestType: 1, digest: '2bb183af5f22588179a53b0a98631fad1a292118' }],
      parentDs: [], failed: [], signer: 'cpanel', time: new Date().toISOString(),
      dnskey: [{ flags: 256, protocol: 3, algorithm: 5, publicKey: 'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==' }],
    };
    recordStatuses(ctx, [status, { ...status, zone: 'bravo-demo.test', state: 'bogus', reason: 'ds-mismatch', message: 'bravo-demo.test is bogus.' }], 'test');
    srv.web.snapshot.refreshChecks();
    const page = await http({ port }, 'GET', `/domains/${zone}`, { headers: html() });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h2>DNSSEC</h2>');
    expect(page.body).toContain('alpha-demo.test. IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118');
    expect(page.body).toMatch(/<th>Key tag<\/th><td><code id="ds-tag-0">60485<\/code>/);
    expect(page.body).toMatch(/<th>Digest type<\/th><td><code id="ds-dt-0">1<\/code> <span class="muted small">SHA-1<\/span>/);
    expect(page.body).toMatch(/<th>Flags<\/th><td><code id="key-flags-0">256<\/code>/);
    expect(page.body).toContain('data-copy="ds-digest-0"');
    expect(page.body).not.toMatch(/<script(?![^>]*nonce=)/); // copy buttons work through the nonce'd app.js only
    const list = await http({ port }, 'GET', '/domains?dnssec=bogus', { headers: html() });
    expect(list.body).toContain('<strong>1</strong> domain of');
    expect(list.body).toContain('bravo-demo.test');
    expect(list.body).toMatch(/<span class="dnssec d-bogus" title="ds-mismatch">Bogus<\/span>/);
    const noDs = await http({ port }, 'GET', '/domains?dnssec=signed-no-ds', { headers: html() });
    expect(noDs.body).toContain(`href="/domains/${zone}"`);
  });

  it('bulk "Enable DNSSEC" runs as a job; a zone whose parent cannot be read is refused and nothing changes', async () => {
    const calls = () => (readFileSync(join(fx.root, 'var/log/stub-calls.jsonl'), 'utf8').match(/enable_dnssec_for_domains/g) ?? []).length;
    const before = calls();
    const r = await http({ port }, 'POST', '/jobs', { headers: { cookie }, form: { _csrf: csrf, action: 'dnssec-enable', domain: ['alpha-demo.test'] } });
    expect(r.status).toBe(303);
    const id = /\/jobs\/([0-9a-f]+)/.exec(String(r.headers.location))![1]!;
    const job = await waitForJob({ port }, `/api/jobs/${id}`, { cookie });
    expect(job.status).toBe('done');
    expect(job.summary).toMatch(/^0 zone\(s\) now signing; 1 refused, nothing changed there\./);
    expect(job.problems[0]).toMatchObject({ code: 'dnssec-parent-unreachable', subject: 'alpha-demo.test' });
    expect(calls()).toBe(before);
    const noCsrf = await http({ port }, 'POST', '/jobs', { headers: { cookie }, form: { action: 'dnssec-enable', domain: ['alpha-demo.test'] } });
    expect(noCsrf.status).toBe(403);
  }, 60_000);

  it('publishes in the background and reports the outcome per zone', async () => {
    // alpha-demo.test receives mail at its apex; the key it serves has no record yet (openssl's hash).
    const zoneFile = join(fx.root, 'var/named/alpha-demo.test.db');
    const spki = opensslTlsaData(join(fx.root, 'var/cpanel/ssl/domain_tls/alpha-demo.test/combined'), 1, 1);
    const record = new RegExp(`^_25\\._tcp(\\.alpha-demo\\.test\\.)?\\s+\\d+\\s+IN\\s+TLSA\\s+3\\s+1\\s+1\\s+${spki}$`, 'im');
    expect(readFileSync(zoneFile, 'utf8')).not.toMatch(record);
    const r = await http({ port }, 'POST', '/jobs', { headers: { cookie }, form: { _csrf: csrf, action: 'publish', domain: ['alpha-demo.test'] } });
    expect(r.status).toBe(303);
    const id = /\/jobs\/([0-9a-f]+)/.exec(String(r.headers.location))![1]!;
    const job = await waitForJob({ port }, `/api/jobs/${id}`, { cookie });
    expect(job.status).toBe('done');
    expect(job.summary).toMatch(/\b[1-9]\d* change\(s\) applied/);
    expect(readFileSync(zoneFile, 'utf8')).toMatch(record);
    const page = await http({ port }, 'GET', `/jobs/${id}`, { headers: html() });
    expect(page.status).toBe(200);
    expect(page.body).toContain(job.summary.replace(/'/g, '&#39;'));
    expect(job.problems).toEqual([]);
  });
});
