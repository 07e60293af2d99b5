import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../src/context.js';
import { describeInstance, kindOf, providerFor } from '../../src/provider-instances.js';
import { toProblem } from '../../src/problem.js';
import { hasSecrets, parseConfig, redactConfig } from '../../src/state/config.js';
import { providerChoices } from '../../src/web/settings-form.js';
import { testContext } from '../helpers/context.js';

/** Named provider instances in the config (issue 25): shape, reserved names, masking through the registry. */

const SECRET = 'cf-NAMED-instance-s3cret-0123456789';
const parseErr = (raw: unknown) => {
  try {
    parseConfig(raw, 'config.json');
  } catch (err) {
    return toProblem(err).message;
  }
  return null;
};

describe('named provider instances', () => {
  it('a zone names an instance; its kind comes from the instance; built-ins keep their top-level settings', () => {
    const c = parseConfig({ providers: { second: { kind: 'cloudflare', apiToken: SECRET } }, zones: { 'a.example': { provider: 'second' }, 'b.example': { provider: 'cloudflare' }, 'c.example': { provider: 'none' } }, cloudflare: { apiToken: 'top-level-token-value' } }, 'config.json');
    expect(c.providers.second).toEqual({ kind: 'cloudflare', apiToken: SECRET });
    const ctx = testContext({});
    ctx.config = c;
    expect(providerFor('a.example', ctx, new Set())).toBe('second');
    expect(kindOf(c, 'second')).toBe('cloudflare');
    expect(kindOf(c, 'cloudflare')).toBe('cloudflare');
    expect(kindOf(c, 'cpanel')).toBe('cpanel');
    expect(providerFor('c.example', ctx, new Set(['c.example']))).toBeNull();
    expect(providerChoices(c).map((p) => p.value)).toEqual(['cpanel', 'cloudflare', 'second', 'none']);
    // The domain page's words for an instance: kind label and server, never the secret.
    const withUrl = parseConfig({ providers: { shop: { kind: 'cloudflare', apiToken: SECRET, baseURL: 'http://127.0.0.1:9/client/v4' } } }, 'config.json');
    expect(describeInstance(withUrl, 'shop')).toBe('Cloudflare · http://127.0.0.1:9/client/v4');
    expect(describeInstance(withUrl, 'cpanel')).toBe('cPanel (this server) · this server');
    expect(describeInstance(withUrl, 'nosuch')).toBeNull();
  });

  it('refuses a providers.cpanel entry, a cpanel-kind instance, an unknown kind, a bad setting and a zone naming no instance, each by key', () => {
    expect(parseErr({ providers: { cpanel: { kind: 'cloudflare' } } })).toMatch(/providers\.cpanel: "cpanel" is a built-in provider name .*top-level "cpanel"/);
    expect(parseErr({ providers: { none: { kind: 'cloudflare' } } })).toMatch(/providers\.none: "none" is a built-in provider name/);
    expect(parseErr({ providers: { local: { kind: 'cpanel' } } })).toMatch(/providers\.local\.kind: must be one of [a-z0-9, ]*\bcloudflare\b[a-z0-9, ]* \(the server's own zones are the built-in "cpanel"\)/);
    expect(parseErr({ providers: { x: { kind: 'route53' } } })).toMatch(/providers\.x\.kind: must be one of/);
    expect(parseErr({ providers: { x: { kind: 'cloudflare', baseURL: 'not a url' } } })).toMatch(/providers\.x\.baseURL/);
    expect(parseErr({ providers: { x: { kind: 'cloudflare', extra: 1 } } })).toMatch(/providers\.x: .*extra/i);
    expect(parseErr({ providers: { 'Bad Name': { kind: 'cloudflare' } } })).toMatch(/providers\.Bad Name: an instance name must be/);
    expect(parseErr({ zones: { 'a.example': { provider: 'hidden' } } })).toMatch(/zones\.a\.example\.provider: "hidden" is no provider: use cpanel, cloudflare or none/);
  });

  it('masks every secret a module declares, for built-in and named instances, on pages and in logs', () => {
    const c = parseConfig({ providers: { second: { kind: 'cloudflare', apiToken: SECRET } } }, 'config.json');
    expect(hasSecrets(c)).toBe(true);
    const shown = JSON.stringify(redactConfig(c));
    expect(shown).not.toContain(SECRET);
    expect(shown).toContain('"kind":"cloudflare"');
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
    log.warn({ config: c }, 'config');
    log.warn({ providers: c.providers }, 'providers');
    log.warn({ settings: { apiToken: SECRET } }, 'settings');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).not.toContain(SECRET);
    expect(hasSecrets(parseConfig({ providers: { second: { kind: 'cloudflare' } } }, 'config.json'))).toBe(false);
  });

  it('a powerdns instance: url, apiKey, serverId (default localhost); the key masked; the domain page names the URL', () => {
    const KEY = 'pdns-NAMED-instance-k3y-0123456789';
    const c = parseConfig({ providers: { pdns: { kind: 'powerdns', url: 'http://127.0.0.1:8081', apiKey: KEY } }, zones: { 'n.example': { provider: 'pdns' } } }, 'config.json');
    expect(c.providers.pdns).toEqual({ kind: 'powerdns', url: 'http://127.0.0.1:8081', apiKey: KEY, serverId: 'localhost' });
    expect(describeInstance(c, 'pdns')).toBe('PowerDNS (HTTP API) · http://127.0.0.1:8081');
    expect(hasSecrets(c)).toBe(true);
    expect(JSON.stringify(redactConfig(c))).not.toContain(KEY);
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
    log.warn({ config: c }, 'config');
    log.warn({ settings: { apiKey: KEY } }, 'settings');
    for (const l of lines) expect(l).not.toContain(KEY);
    expect(parseErr({ providers: { p: { kind: 'powerdns', url: 'ftp://h/', apiKey: 'k' } } })).toMatch(/providers\.p\.url: must be an http/);
    expect(parseErr({ providers: { p: { kind: 'powerdns', url: 'http://h:8081' } } })).toMatch(/providers\.p\.apiKey/);
    expect(parseErr({ providers: { p: { kind: 'powerdns', url: 'http://admin:hunter2@h:8081', apiKey: 'k' } } })).toMatch(/providers\.p\.url: must not hold a user name or password/);
    expect(parseErr({ providers: { p: { kind: 'powerdns', url: 'http://h:8081', apiKey: 'k', serverId: 'a/b' } } })).toMatch(/providers\.p\.serverId/);
  });

  it("an rfc2136 instance in the issue's shape: defaults, tsig.secret masked, bad settings refused by key without echoing the secret", () => {
    const TSIG = Buffer.from('rfc2136-NAMED-instance-tsig-s3cret').toString('base64');
    const c = parseConfig({ providers: { hidden: { kind: 'rfc2136', server: '192.0.2.53:53', tsig: { name: 'tlsa-manager.', algorithm: 'hmac-sha256', secret: TSIG } } }, zones: { 'example.com': { provider: 'hidden' } } }, 'config.json');
    // The key name is held without its final dot; algorithm and timeout have defaults.
    expect(c.providers.hidden).toEqual({ kind: 'rfc2136', server: '192.0.2.53:53', tsig: { name: 'tlsa-manager', algorithm: 'hmac-sha256', secret: TSIG }, timeoutSeconds: 5 });
    expect(parseConfig({ providers: { h: { kind: 'rfc2136', server: '[2001:db8::53]:5353', tsig: { name: 'k', secret: TSIG }, zones: ['Example.COM.'] } } }, 'config.json').providers.h)
      .toMatchObject({ tsig: { algorithm: 'hmac-sha256' }, zones: ['example.com'] });
    expect(describeInstance(c, 'hidden')).toBe('RFC 2136 dynamic update (TSIG) · 192.0.2.53:53');
    expect(hasSecrets(c)).toBe(true);
    expect(JSON.stringify(redactConfig(c))).not.toContain(TSIG);
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
    log.warn({ config: c }, 'config');
    log.warn({ settings: { tsig: { secret: TSIG } } }, 'settings');
    for (const l of lines) expect(l).not.toContain(TSIG);
    const bad = 'not base64 at all, s3cret!';
    const err = parseErr({ providers: { h: { kind: 'rfc2136', server: '192.0.2.53', tsig: { name: 'k', secret: bad } } } });
    expect(err).toMatch(/providers\.h\.tsig\.secret: must be base64/);
    expect(err).not.toContain(bad);
    expect(parseErr({ providers: { h: { kind: 'rfc2136', server: '192.0.2.53', tsig: { name: 'k', secret: 'c2hvcnQ=' } } } })).toMatch(/providers\.h\.tsig\.secret: must be at least 16 bytes/);
    expect(parseErr({ providers: { h: { kind: 'rfc2136', server: '192.0.2.53', tsig: { name: 'k', algorithm: 'hmac-md5', secret: TSIG } } } })).toMatch(/providers\.h\.tsig\.algorithm/);
    expect(parseErr({ providers: { h: { kind: 'rfc2136', server: 'ns.example.com:53', tsig: { name: 'k', secret: TSIG } } } })).toMatch(/providers\.h\.server: must be IP or IP:PORT/);
    expect(parseErr({ providers: { h: { kind: 'rfc2136', server: '192.0.2.53', tsig: { name: 'bad name!', secret: TSIG } } } })).toMatch(/providers\.h\.tsig\.name: is not a DNS name/);
  });
});
