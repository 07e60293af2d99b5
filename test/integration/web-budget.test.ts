import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import { createContext } from '../../src/context.js';
import type { RunningServer } from '../../src/web/server.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { ISSUER_FIXTURES, LE_SPKI, combined, leafFrom, lookalikeCa } from '../helpers/le-chain.js';
import { http, signedIn } from './web-fixture.js';

/**
 * Issue 9 on the domain page: with policy.maxRecordsPerOwner 4 and a Let's Encrypt RSA
 * certificate from R12, the page names the issuers left out (issuers-over-budget) and marks
 * their records "over budget"; a mail domain that is a CNAME says where its mail goes.
 */
let srv: RunningServer;
let port: number;
let cookie: string;
const TOKEN = 'budget-page-token';
const html = () => ({ cookie, accept: 'text/html' });

beforeAll(async () => {
  const ca = lookalikeCa('R12', 'rsa');
  const leaf = leafFrom(ca, 'mail.small.test', 'rsa');
  const root = makeFakeRoot({
    domains: { 'small.test': 'ann', 'www.small.test': 'ann' },
    local: ['small.test'],
    zones: { 'small.test': cpanelZone('small.test', ['small.test. IN MX 10 mail.small.test.', 'mail IN A 192.0.2.10', 'www IN CNAME small.test.']) },
    domainTls: { 'mail.small.test': combined(leaf, join(ISSUER_FIXTURES, 'r12.pem')) },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { maxRecordsPerOwner: 4 }, resolver: '127.0.0.1:9', cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  const ctx = createContext({ root, logger: pino({ level: 'silent' }) });
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
});

afterAll(async () => {
  await srv?.close();
});

describe('domain page and the record budget', () => {
  it('names the issuers left out of the budget and marks their records', async () => {
    const r = await http({ port }, 'GET', '/domains/small.test', { headers: html() });
    expect(r.status).toBe(200);
    expect(r.body).toContain('issuer(s) that may sign its next certificate are not pinned, to keep each TLSA owner within 4 records');
    for (const n of ['R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']) expect(r.body).toContain(n);
    // 3 owners × 6 issuers left out, each a row marked over budget.
    expect(r.body.match(/class="diff over-budget"/g)).toHaveLength(18);
    // The expected records are the 3 that fit per owner (3 1 1, R12, R10), not the left-out ones.
    expect(r.body).toContain(LE_SPKI.R10!.slice(0, 24));
    expect(r.body.match(/<td>yes<\/td>/g)?.length).toBe(9);
  });

  it('a mail domain that is a CNAME says its mail goes through the alias', async () => {
    const r = await http({ port }, 'GET', '/domains/www.small.test', { headers: html() });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/through the CNAME to <span class="mono">small\.test<\/span>/);
    expect(r.body).toContain('mail.small.test');
    expect(r.body).not.toContain('_25._tcp.www.small.test');
  });
});
