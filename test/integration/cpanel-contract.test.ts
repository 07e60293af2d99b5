import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installStubs } from '../../demo/stubs-install.js';
import { fromCpanelDsRow, nameserverType, signerStatus, type CpanelDsRow } from '../../src/dnssec/signer.js';
import { nextKeyFor } from '../../src/cpanel/key-preference.js';
import { readAddressFiles } from '../../src/cpanel/accounts.js';
import { WhmApi } from '../../src/cpanel/whmapi.js';
import { ProblemError } from '../../src/problem.js';
import { ServerRoot } from '../../src/util/server-root.js';
import { CPANEL_FIXTURES, cpanelFile, HOOK_FIXTURES, hookEvent, installFixtureWhmapi1, whmapiFixture } from '../helpers/cpanel-fixtures.js';
import { testContext } from '../helpers/context.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';

/**
 * Issue 22, item 3: the stand-ins of test/fixtures/cpanel follow cPanel's own code (each fixture
 * names the file, sub and lines). Here the product reads every fixture, the hook handles every
 * payload, and the demo's whmapi1 stub answers in the fixtures' shape.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** Field names per path (array entries merged): what an answer's shape is made of. */
function fields(x: unknown, path = '$', out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  if (Array.isArray(x)) for (const e of x) fields(e, `${path}[]`, out);
  else if (x && typeof x === 'object') {
    // Objects keyed by data (DNSSEC keys by tag) are one shape whatever the key.
    const byTag = path.endsWith('.keys');
    const set = out.get(path) ?? new Set<string>();
    for (const [k, v] of Object.entries(x)) {
      if (!byTag) set.add(k);
      fields(v, byTag ? `${path}.*` : `${path}.${k}`, out);
    }
    if (!byTag) out.set(path, set);
  }
  return out;
}

/** The stub never answers a field cPanel's answer does not have, and has every one it must. */
function expectShapeOf(stub: unknown, fixture: unknown, required: Record<string, string[]> = {}) {
  const want = fields(fixture);
  for (const [path, keys] of fields(stub)) {
    expect(want.has(path), `stub answers ${path}, which cPanel's answer does not have`).toBe(true);
    for (const k of keys) expect(want.get(path), `${path}.${k}`).toContain(k);
  }
  const got = fields(stub);
  for (const [path, keys] of Object.entries(required)) for (const k of keys) expect(got.get(path), `${path}.${k} missing in the stub's answer`).toContain(k);
}

describe('every fixture names the cPanel source it follows', () => {
  it('hooks, WHM API 1 answers and files: file, sub and line numbers', () => {
    for (const dir of ['hooks', 'whmapi1']) {
      for (const f of readdirSync(join(CPANEL_FIXTURES, dir))) {
        const fx = JSON.parse(readFileSync(join(CPANEL_FIXTURES, dir, f), 'utf8')) as { source: { file: string; sub: string } };
        expect(fx.source.file, f).toMatch(/^(Cpanel|Whostmgr)\/[\w/]+\.pm$/);
        expect(fx.source.sub, f).toMatch(/lines? \d+/);
      }
    }
    for (const f of ['cpanel.config', 'users-user']) expect(readFileSync(join(CPANEL_FIXTURES, 'files', f), 'utf8')).toMatch(/\.pm .*lines? \d+/);
    expect(HOOK_FIXTURES.map((h) => `${h}.json`).sort()).toEqual(readdirSync(join(CPANEL_FIXTURES, 'hooks')).sort());
  });
});

describe('the hook handles every payload cPanel sends', () => {
  let root: string;
  let pki: ReturnType<typeof makePki>;
  beforeAll(() => {
    pki = makePki();
    const served = pki.leaf('mail.example.com', { sans: ['mail.example.com', 'example.com'] });
    root = makeFakeRoot({
      domains: { 'example.com': 'example' },
      local: ['example.com'],
      zones: { 'example.com': cpanelZone('example.com', ['example.com. IN MX 10 mail.example.com.', 'mail.example.com. IN A 192.0.2.10']) },
      domainTls: { 'mail.example.com': readFileSync(served.combined, 'utf8') },
      files: {
        '/var/cpanel/users/example': cpanelFile('users-user'),
        '/var/cpanel/cpanel.config': cpanelFile('cpanel.config'),
        '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }),
      },
    });
  });

  const hook = (input: string) => spawnSync(process.execPath, [CLI, 'hook', '--root', root], { input, encoding: 'utf8' }).stdout;

  for (const name of HOOK_FIXTURES) {
    it(`${name}: answered 1, handled (not ignored), for the event's own domain`, () => {
      const next = pki.leaf('mail.example.com', { sans: ['mail.example.com', 'example.com'] });
      const out = hook(hookEvent(name, { certificatePem: readFileSync(next.cert, 'utf8'), keyPem: readFileSync(next.key, 'utf8'), cabPem: readFileSync(pki.interCert, 'utf8') }));
      expect(out).toMatch(/^1 /);
      expect(out).not.toMatch(/not an event TLSA Manager handles|no (customer )?domain .*is affected|nothing to do|names no valid domain|has no certificate/);
    });
  }

  it('UAPI SSL::delete_ssl without a domain: the account\'s main domain (DNS= in its users file), as cPanel deletes', () => {
    const event = JSON.parse(hookEvent('UAPI-SSL-delete_ssl-post')) as { data: { args: Record<string, unknown> } };
    delete event.data.args.domain;
    expect(hook(JSON.stringify(event))).toMatch(/^1 reconciled example\.com: /);
  });
});

describe("the demo's whmapi1 stub answers in the fixtures' shape", () => {
  let root: string;
  const whm = (fn: string, ...params: string[]) => JSON.parse(spawnSync(join(root, 'usr/local/cpanel/bin/whmapi1'), ['--output=json', fn, ...params], { encoding: 'utf8' }).stdout) as { data: any; metadata: { result: number; reason: string } };
  beforeAll(async () => {
    root = makeFakeRoot({
      domains: { 'example.com': 'example' },
      zones: { 'example.com': cpanelZone('example.com', ['example.com. IN MX 0 example.com.', 'mail IN CNAME example.com.', '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@server.example.net"']) },
      files: { '/var/cpanel/cpanel.config': 'local_nameserver_type=powerdns\n', '/var/cpanel/cpnat': '192.0.2.10 198.51.100.10\n' },
    });
    await installStubs(root);
  });

  it('listips: every field of cPanel\'s entry, public_ip from /var/cpanel/cpnat', () => {
    const fx = whmapiFixture('listips').answer as { data: { ip: Record<string, unknown>[] } };
    const r = whm('listips');
    expectShapeOf(r, fx, { '$.data.ip[]': Object.keys(fx.data.ip[0]!) });
    expect(r.data.ip[0]).toMatchObject({ ip: '192.0.2.10', public_ip: '198.51.100.10', mainaddr: 1 });
  });

  it('parse_dns_zone: names reduced against the origin, the apex absolute with its dot', () => {
    const fx = whmapiFixture('parse_dns_zone').answer;
    const r = whm('parse_dns_zone', 'zone=example.com');
    expectShapeOf(r, fx, { '$.data.payload[]': ['line_index', 'type', 'dname_b64', 'ttl', 'record_type', 'data_b64', 'text_b64'] });
    const names = (r.data.payload as { type: string; record_type?: string; dname_b64?: string }[]).filter((l) => l.type === 'record').map((l) => `${unb64(l.dname_b64!)} ${l.record_type}`);
    expect(names).toEqual(expect.arrayContaining(['example.com. SOA', 'example.com. MX', 'mail CNAME', '_smtp._tls TXT']));
  });

  it('mass_edit_dns_zone: new_serial; a stale serial answers the typed Stale payload', () => {
    const fx = whmapiFixture('mass_edit_dns_zone');
    const serial = unb64((whm('parse_dns_zone', 'zone=example.com').data.payload as { record_type?: string; data_b64?: string[] }[]).find((l) => l.record_type === 'SOA')!.data_b64![2]!);
    const ok = whm('mass_edit_dns_zone', 'zone=example.com', `serial=${serial}`, `add=${JSON.stringify({ dname: '_25._tcp.mail', ttl: 3600, record_type: 'TLSA', data: ['3', '1', '1', 'ab'.repeat(32)] })}`);
    expectShapeOf(ok, fx.answer, { '$.data': ['new_serial'] });
    const stale = whm('mass_edit_dns_zone', 'zone=example.com', `serial=${serial}`, 'remove=0');
    expect(stale.metadata.result).toBe(0);
    expect(stale.data).toEqual((fx.stale as { data: unknown }).data);
  });

  it('DNSSEC on PowerDNS: enable, fetch_ds (no nsec_details for an NSEC zone), disable', () => {
    const enable = whm('enable_dnssec_for_domains', 'domain=example.com', 'algo_num=13');
    expectShapeOf(enable, whmapiFixture('enable_dnssec_for_domains').answer, { '$.data.domains[]': ['domain', 'enabled', 'nsec_version', 'new_key_id'] });
    const ds = whm('fetch_ds_records_for_domains', 'domain=example.com');
    const fx = whmapiFixture('fetch_ds_records_for_domains').answer;
    expectShapeOf(ds, fx, { '$.data.domains[].ds_records.keys.*': ['active', 'algo_desc', 'algo_num', 'algo_tag', 'bits', 'created', 'digests', 'flags', 'key_id', 'key_tag', 'key_type'] });
    expect(ds.data.domains[0].ds_records.nsec_details).toBeUndefined();
    expectShapeOf(whm('disable_dnssec_for_domains', 'domain=example.com'), whmapiFixture('disable_dnssec_for_domains').answer, { '$.data.domains[]': ['domain', 'disabled'] });
  });

  it('DNSSEC on BIND: the whole call fails', () => {
    writeFileSync(join(root, 'var/cpanel/cpanel.config'), 'local_nameserver_type=bind\n');
    const r = whm('fetch_ds_records_for_domains', 'domain=example.com');
    expect(r.metadata.result).toBe((whmapiFixture('fetch_ds_records_for_domains-bind').answer as { metadata: { result: number } }).metadata.result);
    writeFileSync(join(root, 'var/cpanel/cpanel.config'), 'local_nameserver_type=powerdns\n');
  });
});

describe("the product reads cPanel's answers as cPanel gives them", () => {
  it('listips behind NAT: the public address (public_ip) is this server\'s, so its MX hosts point here', async () => {
    const root = makeFakeRoot({ domains: { 'example.com': 'example' }, mainIp: '10.0.0.5', zones: { 'example.com': cpanelZone('example.com', ['example.com. IN MX 10 mail.example.com.', 'mail.example.com. IN A 192.0.2.10']) } });
    installFixtureWhmapi1(root, { listips: { file: 'listips' } });
    const scan = JSON.parse(spawnSync(process.execPath, [CLI, 'scan', '--json', '--root', root], { encoding: 'utf8' }).stdout) as { endpoints: { host: string }[] };
    expect(scan.endpoints.map((e) => e.host)).toEqual(['mail.example.com']);
  });

  it('/var/cpanel/cpnat: public addresses count as the server\'s without WHM API 1 (hooks)', () => {
    const root = makeFakeRoot({ domains: {}, mainIp: '10.0.0.5', files: { '/var/cpanel/cpnat': '10.0.0.5 192.0.2.10\n10.0.0.6 192.0.2.11\n' } });
    expect(readAddressFiles(new ServerRoot(root)).sort()).toEqual(['10.0.0.5', '10.0.0.6', '192.0.2.10', '192.0.2.11']);
  });

  it('a stale serial is recognised by its type, whatever the language of the reason', async () => {
    const root = makeFakeRoot({ domains: {} });
    installFixtureWhmapi1(root, { mass_edit_dns_zone: { file: 'mass_edit_dns_zone', key: 'stale' } });
    const err = await new WhmApi(new ServerRoot(root)).call('mass_edit_dns_zone', [['zone', 'example.com']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).problem.code).toBe('zone-serial-stale');
  });

  it('fetch_ds_records_for_domains: keys → signing with DS; only nsec_details, or nothing → not signing', () => {
    const rows = (whmapiFixture('fetch_ds_records_for_domains').answer as { data: { domains: CpanelDsRow[] } }).data.domains;
    const [signed, nsecOnly, none] = rows.map(fromCpanelDsRow);
    expect(signed!.signing).toBe('active');
    expect(signed!.ds.map((d) => `${d.keyTag} ${d.algorithm} ${d.digestType}`)).toEqual(['2371 13 2']);
    expect(nsecOnly).toEqual({ signing: 'off', ds: [] });
    expect(none).toEqual({ signing: 'off', ds: [] });
  });

  it('DNSSEC status on BIND and the whole-call failure: a problem per zone, never a crash', async () => {
    // cpanel.config says powerdns, but cPanel answers as on BIND (a changed server): the call fails whole.
    const root = makeFakeRoot({ domains: { 'example.com': 'example' }, zones: { 'example.com': cpanelZone('example.com', []) }, files: { '/var/cpanel/cpanel.config': 'local_nameserver_type=powerdns\n' } });
    installFixtureWhmapi1(root, { fetch_ds_records_for_domains: { file: 'fetch_ds_records_for_domains-bind' } });
    const out = await signerStatus(testContext({}, root), ['example.com']);
    expect(out.get('example.com')!.problem?.code).toBe('whmapi-error');
  });

  it("cpanel.config: local_nameserver_type missing or unknown is PowerDNS (cPanel's Conf.pm); no file, not cPanel", () => {
    const at = (files: Record<string, string>) => nameserverType(testContext({}, makeFakeRoot({ domains: {}, files })));
    expect(at({ '/var/cpanel/cpanel.config': cpanelFile('cpanel.config') })).toBe('bind');
    expect(at({ '/var/cpanel/cpanel.config': 'ssl_default_key_type=rsa-2048\n' })).toBe('powerdns');
    expect(at({ '/var/cpanel/cpanel.config': 'local_nameserver_type=nsd\n' })).toBe('powerdns');
    expect(at({})).toBeNull();
  });

  it('users file and cpanel.config fixtures: the next key is the account\'s ECDSA P-256', () => {
    const root = makeFakeRoot({ domains: {}, files: { '/var/cpanel/users/example': cpanelFile('users-user'), '/var/cpanel/cpanel.config': cpanelFile('cpanel.config') } });
    mkdirSync(join(root, 'var/cpanel/users'), { recursive: true });
    expect(nextKeyFor(new ServerRoot(root), 'example')).toMatchObject({ label: 'ECDSA P-256', source: 'account' });
  });
});
