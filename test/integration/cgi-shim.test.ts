import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// The WHM CGI shim (plugin/cgi/index.cgi) run as cpsrvd runs it: a process with CGI variables in
// its environment and the body on stdin, talking to a fake daemon on a unix socket.

const SHIM = resolve(__dirname, '../../plugin/cgi/index.cgi');

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

let dir: string;
let sock: string;
let server: Server;
const seen: Seen[] = [];
const bigBody = Buffer.alloc(300_000);
for (let i = 0; i < bigBody.length; i++) bigBody[i] = (i * 7 + 3) % 256;

function fakeDaemon(): Server {
  return createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
      if (req.url!.includes('route=%2Fredirect')) {
        res.writeHead(303, { Location: '/cpsess0123456789/cgi/tlsa_manager/index.cgi?route=%2Fdomains' });
        res.end();
      } else if (req.url!.includes('route=%2Fbig')) {
        // Written in pieces: the shim has to stream until the daemon closes.
        res.writeHead(201, 'Created', [['Content-Type', 'application/octet-stream'], ['Set-Cookie', 'a=1; Path=/'], ['Set-Cookie', 'b=2; Path=/'], ['X-Custom', 'yes']]);
        let off = 0;
        const step = () => {
          if (off >= bigBody.length) return res.end();
          res.write(bigBody.subarray(off, off + 65_000));
          off += 65_000;
          setTimeout(step, 2);
        };
        step();
      } else if (req.url!.includes('route=%2Ffragment')) {
        // A page body for WHM's chrome, as the daemon answers when the shim asks for one.
        const body = req.url!.includes('evil=1') ? '<div class="tlsam"><script>evil()</script><p style="color:red">x</p></div>' : '<div class="tlsam">fragment body</div>';
        res.writeHead(404, 'Not Found', [
          ['Content-Type', 'text/html; charset=utf-8'],
          ['Content-Length', String(Buffer.byteLength(body))],
          ...(req.url!.includes('nocsp=1') ? [] : [['Content-Security-Policy', "script-src 'self' 'nonce-QUJDRA+/x=='"] as [string, string]]),
          ['X-TLSA-Fragment', '1'],
          ['X-TLSA-Title', encodeURIComponent('TLSA Manager » <script>"x"</script>')],
          ['X-TLSA-Nonce', req.url!.includes('badnonce') ? 'a"b onload=x' : 'QUJDRA+/x=='],
        ]);
        res.end(body);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'X-Frame-Options': 'SAMEORIGIN' });
        res.end('<p>hello from the daemon</p>');
      }
    });
  });
}

interface CgiResult {
  code: number | null;
  head: string[];
  status: string;
  headers: [string, string][];
  body: Buffer;
  stderr: string;
}

/** Run the shim with exactly `env` (plus PATH) and `input` on stdin. */
function runCgi(env: Record<string, string>, input: Buffer | string = ''): Promise<CgiResult> {
  return new Promise((done, fail) => {
    const child = spawn(SHIM, [], { env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const all = Buffer.concat(out);
      const end = all.indexOf('\r\n\r\n');
      const head = (end < 0 ? all.toString('latin1') : all.subarray(0, end).toString('latin1')).split('\r\n');
      const headers = head.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string];
      });
      const status = headers.find(([k]) => k === 'Status')?.[1] ?? '';
      done({ code, head, status, headers, body: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4), stderr });
    });
    child.stdin.on('error', () => undefined); // the shim may refuse before reading stdin
    child.stdin.end(input);
  });
}

const ROOT_ENV = (extra: Record<string, string> = {}) => ({
  REMOTE_USER: 'root',
  cp_security_token: '/cpsess0123456789',
  REQUEST_METHOD: 'GET',
  QUERY_STRING: '',
  TLSA_MANAGER_SOCKET: sock,
  ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cgi-shim-'));
  sock = join(dir, 'web.sock');
  server = fakeDaemon();
  await new Promise<void>((r) => server.listen(sock, r));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
});

describe('access', () => {
  it('refuses a user name cPanel would never give (upper case, spaces, empty, too long) with 403 and never contacts the daemon', async () => {
    for (const user of ['ROOT', 'root ', '', '-x', '.x', 'a'.repeat(17), 'a/b', 'a\nX-Evil: 1']) {
      const r = await runCgi(ROOT_ENV({ REMOTE_USER: user }));
      expect(r.code).toBe(0);
      expect(r.status).toBe('403 Forbidden');
      expect(r.body.toString()).toContain('not a user name TLSA Manager can answer for');
    }
    const noUser = await runCgi({ REQUEST_METHOD: 'GET', TLSA_MANAGER_SOCKET: sock });
    expect(noUser.status).toBe('403 Forbidden');
    expect(seen).toHaveLength(0);
  });

  it('HTML-escapes the refused user name', async () => {
    const r = await runCgi(ROOT_ENV({ REMOTE_USER: '<script>alert("x")</script>' }));
    const html = r.body.toString();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });
});

describe('resellers (issue 28)', () => {
  it('passes a reseller on as the WHM user: the daemon decides what it may see', async () => {
    const r = await runCgi(ROOT_ENV({ REMOTE_USER: 'reseller1', HTTP_X_TLSA_REMOTE_USER: 'root' }));
    expect(r.status).toBe('200 OK');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-tlsa-remote-user']).toBe('reseller1');
  });
});

describe('forwarding', () => {
  it('forwards method, route query, user, security token and cookies, and nothing else', async () => {
    const r = await runCgi(
      ROOT_ENV({
        QUERY_STRING: 'route=%2Fdomains&sort=name',
        HTTP_COOKIE: 'tlsa_x=1; cpsession=abc',
        // Things that must NOT reach the daemon:
        HTTP_X_TLSA_REMOTE_USER: 'evil',
        REMOTE_ADDR: '198.51.100.7',
        HTTP_AUTHORIZATION: 'Basic c2VjcmV0',
        SOME_SECRET: 'do-not-forward',
      }),
    );
    expect(r.status).toBe('200 OK');
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.method).toBe('GET');
    expect(s.url).toBe('/?route=%2Fdomains&sort=name');
    expect(s.headers['x-tlsa-remote-user']).toBe('root');
    expect(s.headers['x-tlsa-security-token']).toBe('/cpsess0123456789');
    expect(s.headers.cookie).toBe('tlsa_x=1; cpsession=abc');
    expect(Object.keys(s.headers).sort()).toEqual(['connection', 'cookie', 'host', 'x-tlsa-remote-user', 'x-tlsa-security-token']);
    expect(s.rawHeaders.join('\n')).not.toMatch(/evil|198\.51\.100\.7|c2VjcmV0|do-not-forward/);
  });

  it('forwards a POST body byte for byte with its content type and length', async () => {
    const body = Buffer.concat([Buffer.from('csrf=t0k%2Bn&note='), Buffer.from('é\r\n\x00 end', 'utf8'), Buffer.alloc(100_000, 0x61)]);
    const r = await runCgi(
      ROOT_ENV({
        REQUEST_METHOD: 'POST',
        QUERY_STRING: 'route=%2Fsettings',
        CONTENT_TYPE: 'application/x-www-form-urlencoded',
        CONTENT_LENGTH: String(body.length),
      }),
      body,
    );
    expect(r.status).toBe('200 OK');
    const s = seen[0]!;
    expect(s.method).toBe('POST');
    expect(s.url).toBe('/?route=%2Fsettings');
    expect(s.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(s.headers['content-length']).toBe(String(body.length));
    expect(s.body.equals(body)).toBe(true);
  });

  it('uses PATH_INFO as the path when there is no route parameter, encoded', async () => {
    await runCgi(ROOT_ENV({ PATH_INFO: '/domains/exa mple.com?#x', QUERY_STRING: 'tab=records' }));
    expect(seen[0]!.url).toBe('/domains/exa%20mple.com%3F%23x?tab=records');
    await runCgi(ROOT_ENV({ PATH_INFO: '/ignored', QUERY_STRING: 'route=%2Factivity' }));
    expect(seen[1]!.url).toBe('/?route=%2Factivity');
  });

  it('encodes what cannot appear in a request line instead of passing it raw', async () => {
    await runCgi(ROOT_ENV({ QUERY_STRING: 'route=/x y&q=a#b\r\nX-Evil: 1' }));
    expect(seen[0]!.url).toBe('/?route=/x%20y&q=a%23b%0D%0AX-Evil:%201');
    expect(seen[0]!.headers['x-evil']).toBeUndefined();
  });

  it('drops a malformed security token and cannot be made to inject headers', async () => {
    await runCgi(ROOT_ENV({ cp_security_token: '/cpsess123\r\nX-Evil: 1', HTTP_COOKIE: 'a=1\r\nX-Evil: 2', CONTENT_TYPE: 'text/plain\nX-Evil: 3' }));
    const s = seen[0]!;
    expect(s.headers['x-tlsa-security-token']).toBeUndefined();
    expect(s.headers['x-evil']).toBeUndefined();
    expect(s.headers.cookie).toBe('a=1 X-Evil: 2');
    expect(s.headers['content-type']).toBe('text/plain X-Evil: 3');
  });

  it('refuses a body shorter than CONTENT_LENGTH without contacting the daemon', async () => {
    const r = await runCgi(ROOT_ENV({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '10' }), 'abc');
    expect(r.status).toBe('400 Bad Request');
    expect(r.body.toString()).toContain('ended early');
    expect(seen).toHaveLength(0);
  });
});

describe('relaying the response', () => {
  it('relays status, headers (repeated ones too) and a streamed binary body in CGI form', async () => {
    const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Fbig' }));
    expect(r.head[0]).toBe('Status: 201 Created');
    expect(r.headers.filter(([k]) => k === 'Set-Cookie').map(([, v]) => v)).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(r.headers).toContainEqual(['X-Custom', 'yes']);
    expect(r.headers).toContainEqual(['Content-Type', 'application/octet-stream']);
    // Hop-by-hop headers of the socket connection are not passed on to cpsrvd.
    expect(r.headers.map(([k]) => k.toLowerCase())).not.toContain('connection');
    expect(r.headers.map(([k]) => k.toLowerCase())).not.toContain('transfer-encoding');
    expect(r.body.equals(bigBody)).toBe(true);
  });

  it('relays a redirect with its Location', async () => {
    const r = await runCgi(ROOT_ENV({ REQUEST_METHOD: 'POST', QUERY_STRING: 'route=%2Fredirect', CONTENT_LENGTH: '0' }));
    expect(r.status).toBe('303 See Other');
    expect(r.headers).toContainEqual(['Location', '/cpsess0123456789/cgi/tlsa_manager/index.cgi?route=%2Fdomains']);
  });

  it('says 502 when the daemon answers with something that is not HTTP', async () => {
    const bad = join(dir, 'bad.sock');
    const garbage: NetServer = createNetServer((c) => {
      c.on('error', () => undefined);
      c.resume();
      c.end('nonsense\r\n\r\n');
    });
    await new Promise<void>((r) => garbage.listen(bad, r));
    try {
      const r = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: bad }));
      expect(r.status).toBe('502 Bad Gateway');
      expect(r.body.toString()).toContain('systemctl restart tlsa-manager');
    } finally {
      await new Promise<void>((r) => garbage.close(() => r()));
    }
  });
});

describe('daemon not running', () => {
  it('explains with 503 and the fix when the socket is missing', async () => {
    const r = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: join(dir, 'missing.sock') }));
    expect(r.code).toBe(0);
    expect(r.status).toBe('503 Service Unavailable');
    expect(r.headers).toContainEqual(['Content-Type', 'text/html; charset=utf-8']);
    const html = r.body.toString();
    expect(html).toContain('<title>TLSA Manager&#39;s service is not running</title>');
    expect(html).toContain('systemctl start tlsa-manager');
    expect(html).toContain('No such file or directory');
  });

  it('explains the same when a stale socket path refuses connections', async () => {
    const stale = join(dir, 'stale.sock');
    writeFileSync(stale, '');
    const r = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: stale }));
    expect(r.status).toBe('503 Service Unavailable');
    expect(r.body.toString()).toContain('Connection refused');
  });

  it('HTML-escapes what it shows', async () => {
    const evilDir = join(dir, '<img src=x onerror="alert(1)">');
    mkdirSync(evilDir, { recursive: true });
    const r = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: join(evilDir, 'web.sock') }));
    const html = r.body.toString();
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
  });

  it("uses WHM's cached header and footer when present, placeholders filled in", async () => {
    const root = join(dir, 'chrome-root');
    const hdr = join(root, 'var/cpanel/caches/_generated_header_files');
    const ftr = join(root, 'var/cpanel/caches/_generated_footer_files');
    mkdirSync(hdr, { recursive: true });
    mkdirSync(ftr, { recursive: true });
    writeFileSync(join(hdr, 'cache_keys.json'), JSON.stringify({ root: 'k3y' }));
    writeFileSync(
      join(hdr, 'k3y_0_0.html'),
      '<html><head><title>Results of Your Request</title><script nonce="00000000000"></script></head><body>' +
        '<a href="/cpsess0000000000/scripts/command">home</a><span>cpuser00000000000</span>',
    );
    writeFileSync(join(ftr, 'footer.html'), '<footer>WHM footer</footer></body></html>');
    const r = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: join(dir, 'missing.sock'), TLSA_MANAGER_ROOT: root }));
    const html = r.body.toString();
    expect(r.status).toBe('503 Service Unavailable');
    expect(html.startsWith('<html><head><title>TLSA Manager&#39;s service is not running</title>')).toBe(true);
    expect(html).toContain('href="/cpsess0123456789/scripts/command"');
    expect(html).toContain('<span>root</span>');
    expect(html).not.toContain('00000000000');
    expect(html).toMatch(/<script nonce="[0-9a-f]{16}">/);
    expect(html).toContain('systemctl start tlsa-manager');
    expect(html.endsWith('<footer>WHM footer</footer></body></html>')).toBe(true);

    // Unknown cache-key layout: fall back to the shim's own page rather than guess.
    writeFileSync(join(hdr, 'cache_keys.json'), '["k3y"]');
    const plain = await runCgi(ROOT_ENV({ TLSA_MANAGER_SOCKET: join(dir, 'missing.sock'), TLSA_MANAGER_ROOT: root }));
    expect(plain.body.toString()).toMatch(/^<!DOCTYPE html>/);
  });
});

describe('pages inside WHM chrome', () => {
  let root: string;
  beforeAll(() => {
    root = join(dir, 'fragment-root');
    const hdr = join(root, 'var/cpanel/caches/_generated_header_files');
    const ftr = join(root, 'var/cpanel/caches/_generated_footer_files');
    mkdirSync(hdr, { recursive: true });
    mkdirSync(ftr, { recursive: true });
    writeFileSync(join(hdr, 'cache_keys.json'), JSON.stringify({ root: 'k3y', other: 'zzz' }));
    writeFileSync(
      join(hdr, 'k3y_0_1.html'),
      '<html><head><title>WHM - Results of Your Request</title><script nonce="00000000000">var a=1</script></head><body>' +
        '<a href="/cpsess0000000000/scripts/command">home</a><span>cpuser00000000000</span>',
    );
    writeFileSync(join(ftr, 'footer.html'), '<footer nonce="00000000000">WHM footer</footer></body></html>');
  });

  it('asks the daemon for a body only when the chrome files are there', async () => {
    await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Fdomains', TLSA_MANAGER_ROOT: root }));
    expect(seen[0]!.headers['x-tlsa-chrome']).toBe('whm');
    await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Fdomains', TLSA_MANAGER_ROOT: join(dir, 'no-such-root') }));
    expect(seen[1]!.headers['x-tlsa-chrome']).toBeUndefined();
  });

  it('wraps a fragment: status kept, title escaped, nonce of the CSP filled in, notes and stale length dropped', async () => {
    const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Ffragment', TLSA_MANAGER_ROOT: root }));
    expect(r.status).toBe('404 Not Found');
    const html = r.body.toString();
    expect(html).toBe(
      '<html><head><title>WHM - TLSA Manager » &lt;script&gt;&quot;x&quot;&lt;/script&gt;</title><script nonce="QUJDRA+/x==">var a=1</script></head><body>' +
        '<a href="/cpsess0123456789/scripts/command">home</a><span>root</span>' +
        '<div class="tlsam">fragment body</div>' +
        '<footer nonce="QUJDRA+/x==">WHM footer</footer></body></html>',
    );
    const names = r.headers.map(([k]) => k.toLowerCase());
    expect(names).toContain('content-security-policy');
    expect(names).not.toContain('content-length');
    expect(names.filter((n) => n.startsWith('x-tlsa-'))).toEqual([]);
  });

  it('drops the nonce attribute (as WHM.php does without a nonce) when the nonce is not one', async () => {
    const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Ffragment&badnonce=1', TLSA_MANAGER_ROOT: root }));
    const html = r.body.toString();
    expect(html).toContain('<script >var a=1</script>');
    expect(html).not.toContain('onload');
    expect(html).not.toContain('00000000000');
  });

  it("adds to the daemon's CSP the sha256 of the chrome's own inline code without a nonce, and nothing of the page body", async () => {
    const hashRoot = join(dir, 'hash-root');
    const hdr = join(hashRoot, 'var/cpanel/caches/_generated_header_files');
    const ftr = join(hashRoot, 'var/cpanel/caches/_generated_footer_files');
    mkdirSync(hdr, { recursive: true });
    mkdirSync(ftr, { recursive: true });
    writeFileSync(join(hdr, 'cache_keys.json'), JSON.stringify({ root: 'k3y' }));
    writeFileSync(
      join(hdr, 'k3y_0_1.html'),
      '<html><head><!-- <script>commented()</script> --><script nonce="00000000000">nonced()</script><script src="/cpsess0000000000/x.js"></script>' +
        "<script>\r\n go('/cpsess0000000000/');\r\n</script><style type=\"text/css\">p{margin:0}</style></head><body>" +
        '<div id="topFrameWrapper" style="display:none;visibility:hidden"></div><div title="a>b" style=\'font-family:&quot;Open Sans&quot;\'></div>',
    );
    writeFileSync(join(ftr, 'footer.html'), '<script>footer()</script></body></html>');
    const sha = (t: string) => `'sha256-${createHash('sha256').update(t, 'utf8').digest('base64')}'`;
    const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Ffragment&evil=1', TLSA_MANAGER_ROOT: hashRoot }));
    const csp = r.headers.find(([k]) => k.toLowerCase() === 'content-security-policy')![1];
    // Hashed as the browser sees them: the token filled in, CRLF read as LF, &quot; decoded.
    const scripts = ["\n go('/cpsess0123456789/');\n", 'footer()'].map(sha).sort();
    const attrs = ['display:none;visibility:hidden', 'font-family:"Open Sans"'].map(sha).sort();
    expect(csp).toBe(`script-src 'self' 'nonce-QUJDRA+/x==' ${scripts.join(' ')}; style-src ${sha('p{margin:0}')} 'unsafe-hashes' ${attrs.join(' ')}`);
    for (const t of ['commented()', 'nonced()', 'evil()', 'color:red']) expect(csp).not.toContain(sha(t));
    // A fragment without the daemon's policy gets a closed one, never only the hashes.
    const bare = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Ffragment&nocsp=1', TLSA_MANAGER_ROOT: hashRoot }));
    expect(bare.headers.find(([k]) => k.toLowerCase() === 'content-security-policy')![1]).toMatch(/^default-src 'none'; script-src 'sha256-/);
  });

  it('relays a page the daemon did not mark as a fragment as it is, chrome or not', async () => {
    const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Fdomains', TLSA_MANAGER_ROOT: root }));
    expect(r.body.toString()).toBe('<p>hello from the daemon</p>');
  });
});

describe('latency', () => {
  function direct(): Promise<void> {
    return new Promise((done, fail) => {
      const req = request({ socketPath: sock, path: '/?route=%2Fdomains', headers: { 'X-TLSA-Remote-User': 'root' } }, (res) => {
        res.resume();
        res.on('end', () => done());
      });
      req.on('error', fail);
      req.end();
    });
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  it('measures the time the shim adds to a request (reported, not asserted)', async () => {
    const N = 25;
    const viaShim: number[] = [];
    const viaSocket: number[] = [];
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      const r = await runCgi(ROOT_ENV({ QUERY_STRING: 'route=%2Fdomains' }));
      viaShim.push(performance.now() - t);
      expect(r.status).toBe('200 OK');
      t = performance.now();
      await direct();
      viaSocket.push(performance.now() - t);
    }
    const added = median(viaShim) - median(viaSocket);
    console.log(
      `CGI shim latency: median ${median(viaShim).toFixed(1)} ms through the shim (process start included), ` +
        `${median(viaSocket).toFixed(1)} ms straight to the socket, added ${added.toFixed(1)} ms`,
    );
    expect(seen).toHaveLength(2 * N);
  });
});
