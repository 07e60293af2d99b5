import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';

/**
 * A fake of cpsrvd for the CGI shim: what WHM does in front of a plugin. Requests under the
 * session's `/cpsessNNNNNNNNNN` prefix reach `/cgi/tlsa_manager/index.cgi` (the shim, run as a CGI
 * with the variables cpsrvd sets: REMOTE_USER, cp_security_token, REQUEST_METHOD, QUERY_STRING,
 * CONTENT_TYPE, CONTENT_LENGTH, HTTP_COOKIE) or static files of the fake docroot (WHM's chrome
 * assets). A wrong or missing session prefix is refused, as cpsrvd refuses it.
 */
export interface FakeCpsrvd {
  base: string;
  token: string;
  /** `${base}${token}/cgi/tlsa_manager/index.cgi?route=…` */
  url(route?: string): string;
  close(): Promise<void>;
}

export interface CpsrvdOptions {
  shim: string;
  socket: string;
  /** The cPanel-shaped root: WHM's chrome cache and docroot (TLSA_MANAGER_ROOT for the shim). */
  root: string;
  /** Pass TLSA_MANAGER_ROOT to the shim (false: the shim looks at / and finds no chrome). */
  chrome?: boolean;
  user?: string;
}

const TYPES: Record<string, string> = { '.css': 'text/css', '.js': 'text/javascript', '.png': 'image/png', '.svg': 'image/svg+xml' };
export const CPSRVD_TOKEN = '/cpsess0123456789';

export async function startCpsrvd(opts: CpsrvdOptions): Promise<FakeCpsrvd> {
  const server: Server = createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`fake cpsrvd: ${String(err)}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    token: CPSRVD_TOKEN,
    url: (route) => `${base}${CPSRVD_TOKEN}/cgi/tlsa_manager/index.cgi${route ? `?route=${encodeURIComponent(route)}` : ''}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: CpsrvdOptions): Promise<void> {
  const url = new URL(req.url!, 'http://cpsrvd');
  if (!url.pathname.startsWith(`${CPSRVD_TOKEN}/`)) {
    res.writeHead(403, { 'Content-Type': 'text/plain' });
    return void res.end('fake cpsrvd: missing or wrong security token\n');
  }
  const path = url.pathname.slice(CPSRVD_TOKEN.length);
  if (path === '/cgi/tlsa_manager/index.cgi') return runCgi(req, res, url, opts);
  const docroot = resolve(opts.root, 'usr/local/cpanel/whostmgr/docroot');
  const file = resolve(docroot, `.${decodeURIComponent(path)}`);
  if (!file.startsWith(`${docroot}/`) || !TYPES[extname(file)]) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return void res.end('fake cpsrvd: not found\n');
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)]! });
    res.end(body);
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('fake cpsrvd: not found\n');
  }
}

async function runCgi(req: IncomingMessage, res: ServerResponse, url: URL, opts: CpsrvdOptions): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    REMOTE_USER: opts.user ?? 'root',
    cp_security_token: CPSRVD_TOKEN,
    REQUEST_METHOD: req.method!,
    QUERY_STRING: url.search.slice(1),
    SCRIPT_NAME: `${CPSRVD_TOKEN}/cgi/tlsa_manager/index.cgi`,
    TLSA_MANAGER_SOCKET: opts.socket,
    ...(opts.chrome === false ? { TLSA_MANAGER_ROOT: resolve(opts.root, 'nonexistent') } : { TLSA_MANAGER_ROOT: opts.root }),
    ...(req.headers['content-type'] ? { CONTENT_TYPE: req.headers['content-type'] } : {}),
    ...(body.length || req.method === 'POST' ? { CONTENT_LENGTH: String(body.length) } : {}),
    ...(req.headers.cookie ? { HTTP_COOKIE: req.headers.cookie } : {}),
  };
  const out = await new Promise<Buffer>((done, fail) => {
    const child = spawn(opts.shim, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const parts: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => parts.push(c));
    child.on('error', fail);
    child.on('close', () => done(Buffer.concat(parts)));
    child.stdin.on('error', () => undefined);
    child.stdin.end(body);
  });
  const end = out.indexOf('\r\n\r\n');
  if (end < 0) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    return void res.end('fake cpsrvd: the CGI wrote no header\n');
  }
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of out.subarray(0, end).toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    const name = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.slice(0, 3));
    else headers.push([name, value]);
  }
  res.writeHead(status, headers.flat());
  res.end(out.subarray(end + 4));
}
