import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Demo only: the account owners' cPanel page (plugin/cpanel/tlsa_manager/) as each demo account
 * sees it, without cPanel. A loopback server renders the Jupiter template with Template Toolkit
 * inside the test's stand-in of Jupiter's master.html.tt (test/fakes/jupiter/render.pl, the way
 * test/browser/cpanel-page.test.ts does), from the answer of the service's own account door
 * (dist/web/account-endpoint.js `accountAnswer`, the code behind POST /account). URLs are shaped
 * like cPanel's (/cpsess…/frontend/jupiter/tlsa_manager/index.html), with the account in place of
 * the session token: there is no login here, so it listens on 127.0.0.1 only. "Check now" and the
 * e-mail switch work through /cpsess…/execute/TLSAManager/<fn>, as on cPanel.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'";
type Answer = { ok: true; data: unknown } | { ok: false; code: string; message: string; fix?: string };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startAccountPages(opts: { repo: string; root: string; work: string; port: number; accounts: { user: string; mainDomain: string }[] }): Promise<{ url: string; close(): Promise<void> } | string> {
  if (spawnSync('perl', ['-MTemplate', '-e', '1']).status !== 0) return 'the account owners’ pages need Perl’s Template Toolkit (Debian: apt-get install libtemplate-perl)';
  const dist = (p: string) => import(pathToFileURL(join(opts.repo, 'dist', p)).href);
  const { createContext, createLogger } = (await dist('context.js')) as { createContext(o: { root: string; logger: unknown }): unknown; createLogger(o: { level: string }): unknown };
  const door = (await dist('web/account-endpoint.js')) as { accountAnswer(ctx: unknown, limiter: unknown, user: string, body: string): Promise<Answer>; CheckLimiter: new () => unknown };
  const limiter = new door.CheckLimiter();
  const ask = (user: string, request: object) => door.accountAnswer(createContext({ root: opts.root, logger: createLogger({ level: 'silent' }) }), limiter, user, JSON.stringify(request));
  // The theme as install_plugin places the page, beside the chrome's stand-in.
  const theme = join(opts.work, 'theme');
  rmSync(opts.work, { recursive: true, force: true });
  mkdirSync(join(theme, '_assets'), { recursive: true });
  mkdirSync(join(theme, 'tlsa_manager'));
  copyFileSync(join(opts.repo, 'test/fakes/jupiter/_assets/master.html.tt'), join(theme, '_assets/master.html.tt'));
  for (const f of readdirSync(join(opts.repo, 'plugin/cpanel/tlsa_manager'))) copyFileSync(join(opts.repo, 'plugin/cpanel/tlsa_manager', f), join(theme, 'tlsa_manager', f));
  const users = new Set(opts.accounts.map((a) => a.user));

  async function page(user: string): Promise<string> {
    const a = await ask(user, { action: 'status' });
    const results = join(opts.work, `${user}.json`);
    writeFileSync(results, JSON.stringify({ 'TLSAManager::status': a.ok ? { status: 1, data: a.data, errors: [] } : { status: 0, data: null, errors: [`${a.message}${a.fix ? ` ${a.fix}` : ''}`] } }));
    const r = spawnSync('perl', [join(opts.repo, 'test/fakes/jupiter/render.pl'), theme, 'tlsa_manager/index.html.tt', results], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`Template Toolkit: ${r.stderr.trim()}`);
    return r.stdout;
  }

  function index(): string {
    const rows = opts.accounts.map((a) => `<li><a href="/cpsess-${esc(a.user)}/frontend/jupiter/tlsa_manager/index.html">${esc(a.user)}</a> (${esc(a.mainDomain)})</li>`).join('\n');
    return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Demo: the account owners' pages</title></head><body><h1>Demo: cPanel » Email » Email Security (DANE), per account</h1><p>What each account owner sees on their cPanel page (rendered from the Jupiter template, with a stand-in for cPanel's chrome). Try <strong>foxtrot</strong> (signed here, the DS to add at the registrar) and <strong>cloud</strong> (DNS elsewhere: the records to add there).</p><ul>${rows}</ul></body></html>`;
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://demo');
      const send = (status: number, type: string, body: string | Buffer) => {
        res.writeHead(status, { 'Content-Type': type, 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
        res.end(body);
      };
      if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', index());
      // Browsers ask for a favicon on their own; cPanel serves one.
      if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
      const m = /^\/cpsess-([a-z0-9_.-]{1,16})\/(.*)$/.exec(url.pathname);
      if (!m || !users.has(m[1]!)) return send(404, 'text/plain', 'not found');
      const [, user, rest] = m as unknown as [string, string, string];
      if (rest === 'frontend/jupiter/tlsa_manager/index.html') return send(200, 'text/html; charset=utf-8', await page(user));
      if (rest.endsWith('/jupiter.css')) return send(200, 'text/css', readFileSync(join(opts.repo, 'test/fakes/jupiter/jupiter.css')));
      const asset = /\/tlsa_manager\/(index\.(?:css|js))$/.exec(rest);
      if (asset) return send(200, asset[1] === 'index.css' ? 'text/css' : 'text/javascript', readFileSync(join(theme, 'tlsa_manager', asset[1]!)));
      // cPanel's /execute/ answer shape: {status, data, errors}.
      const call = /^execute\/TLSAManager\/(check|set_notify)$/.exec(rest);
      if (call) {
        const a = call[1] === 'check' ? await ask(user, { action: 'check', domain: url.searchParams.get('domain') ?? '' }) : await ask(user, { action: 'notify', enabled: url.searchParams.get('enabled') === '1' });
        return send(200, 'application/json', JSON.stringify(a.ok ? { status: 1, data: a.data, errors: null } : { status: 0, data: null, errors: [`${a.message}${a.fix ? ` ${a.fix}` : ''}`] }));
      }
      return send(404, 'text/plain', 'not found');
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`demo account page failed: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
