import { handleHookRequest, isHookRequest, watchConfig } from './hook-endpoint.js';
import { CheckLimiter, handleAccountRequest, isAccountRequest } from './account-endpoint.js';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { loginUrl, WEB_ADDRESS_META } from './login-links.js';
import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../context.js';
import { problem, ProblemError } from '../problem.js';
import { configPermissionProblem } from '../state/config.js';
import { markViaSocket } from './auth.js';
import { createWebApp, type WebApp, type WebOptions } from './app.js';

export type Listen = { kind: 'tcp'; host: string; port: number; tls?: { cert: string; key: string } } | { kind: 'socket'; path: string };

/** 127.0.0.0/8, ::1 and localhost: the only addresses served without TLS unless --insecure. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A standalone server on any other address carries the session cookie and the login link over
 * the network: only with TLS, or when the admin says --insecure (e.g. behind a TLS proxy).
 */
export function listenProblem(host: string, tls: boolean, insecure: boolean): string | null {
  if (isLoopback(host) || tls || insecure) return null;
  return `--listen ${host} is not a loopback address and no TLS certificate is given: logins and session cookies would cross the network in clear text.`;
}

/** `127.0.0.1:8450`, `[::1]:8450`, `localhost:8450` → host and port. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ProblemError(problem('usage', `--listen must be HOST:PORT (e.g. 127.0.0.1:8450), not "${s.slice(0, 60)}".`));
  return { host: (m[1] ?? m[2])!, port };
}

/** The socket's directory must not let anyone else swap the socket (group/other writable). */
export function socketDirProblem(path: string): string | null {
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch {
    return `${dir} does not exist; create it with mode 0700 (systemd: RuntimeDirectory=tlsa-manager).`;
  }
  if (!st.isDirectory()) return `${dir} is not a directory.`;
  if (st.mode & 0o022) return `${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 700 ${dir}`;
  if (typeof process.getuid === 'function' && st.uid !== process.getuid() && st.uid !== 0) return `${dir} is owned by another user (uid ${st.uid}).`;
  return null;
}

export interface RunningServer {
  web: WebApp;
  server: Server;
  /** The URL (tcp) or socket path it listens on. */
  address: string;
  close(): Promise<void>;
}

/**
 * Start the app. Refuses to run with a config that holds a token and is readable by others, or a
 * socket whose directory others can write to. Socket requests are marked so only they may carry
 * the forwarded WHM user.
 */
export async function startServer(ctx: AppContext, listen: Listen, opts: Omit<WebOptions, 'mode'> = {}): Promise<RunningServer> {
  const permission = configPermissionProblem(ctx.configPath, ctx.config);
  if (permission) throw new ProblemError(problem('config-permissions', permission, { fix: `chmod 600 ${ctx.configPath}` }));
  const tls = listen.kind === 'tcp' ? listen.tls : undefined;
  const web = createWebApp(ctx, { ...opts, mode: listen.kind === 'socket' ? 'socket' : 'standalone', secureCookie: opts.secureCookie === true || tls !== undefined });
  const checkLimiter = new CheckLimiter();
  const server: Server =
    listen.kind === 'socket'
      ? createServer((req, res) => {
          // cPanel hook events from the hook client: answered here, never by the web app.
          if (isHookRequest(req)) return handleHookRequest(ctx, req, res);
          // Account owners' page data, asked by our AdminBin for the caller cPanel names.
          if (isAccountRequest(req)) return handleAccountRequest(ctx, checkLimiter, req, res);
          markViaSocket(req);
          web.app(req, res);
        })
      : tls
        ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, web.app)
        : createServer(web.app);
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;

  let address: string;
  if (listen.kind === 'socket') {
    const dirProblem = socketDirProblem(listen.path);
    if (dirProblem) throw new ProblemError(problem('socket-permissions', dirProblem));
    removeStaleSocket(listen.path);
    const old = process.umask(0o177);
    try {
      await listenOn(server, { path: listen.path });
    } finally {
      process.umask(old);
    }
    chmodSync(listen.path, 0o600);
    watchConfig(ctx);
    address = listen.path;
  } else {
    await listenOn(server, { host: listen.host, port: listen.port });
    const a = server.address() as AddressInfo;
    address = `${tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    // For `tlsa-manager login-link` (root only, like the state database itself).
    ctx.state().setMeta(WEB_ADDRESS_META, address);
  }
  return {
    web,
    server,
    address,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await web.jobs.idle();
      if (listen.kind === 'socket') removeStaleSocket(listen.path);
    },
  };
}

function listenOn(server: Server, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else throw new ProblemError(problem('socket-path', `${path} exists and is not a socket; refusing to replace it.`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export { loginUrl };
