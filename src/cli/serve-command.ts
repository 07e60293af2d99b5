import { problem, ProblemError } from '../problem.js';
import { listenProblem, loginUrl, parseListen, startServer, type Listen } from '../web/server.js';
import { readFileSync } from 'node:fs';
import { issueLoginLink, WEB_ADDRESS_META } from '../web/login-links.js';
import type { Values } from './types.js';
import type { Command } from './types.js';
import { startWatchdog } from '../alerts/watchdog.js';
import { Providers } from '../provider-instances.js';
import { recoverInterrupted } from '../plan/recover.js';
import { setFlagsFromString } from 'node:v8';

/**
 * `tlsa-manager serve --listen HOST:PORT | --socket PATH`: runs until SIGTERM/SIGINT, then stops
 * taking requests, lets running jobs finish and exits 0.
 */
export const serveCommand: Command = {
  async run({ ctx, values }) {
    const listenOpt = values.listen as string | undefined;
    const socketOpt = values.socket as string | undefined;
    if (listenOpt && socketOpt) throw new ProblemError(problem('usage', 'serve takes --listen or --socket, not both.'));
    const listen: Listen = socketOpt ? { kind: 'socket', path: socketOpt } : { kind: 'tcp', ...parseListen(listenOpt ?? '127.0.0.1:8450'), ...tlsOption(values) };
    if (listen.kind === 'tcp') {
      const refused = listenProblem(listen.host, listen.tls !== undefined, values.insecure === true);
      if (refused) throw new ProblemError(problem('usage', refused, { fix: 'Give --tls-cert FILE --tls-key FILE, listen on 127.0.0.1 (and tunnel), or add --insecure when a TLS proxy is in front.' }));
    }
    // The service lives for months and idles between hook events and page views: V8's heap sizing
    // for memory rather than throughput keeps its resident memory near what it holds (issue 26:
    // 320 MB after 10,000 hook events on a 10,000-domain root without it, 224 MB with it, the
    // events no slower). Set before the service allocates; the snapshot worker shares the flag.
    setFlagsFromString('--optimize-for-size');
    // A run killed while writing a zone is finished before the app shows any state.
    await recoverInterrupted(ctx!, new Providers(ctx!), 'serve');
    // A reusable password for automation (documented as such); the printed link works once.
    const token = process.env.TLSA_MANAGER_WEB_TOKEN || undefined;
    const running = await startServer(ctx!, listen, token ? { loginToken: token } : {});
    // The daemon watches the timer and delivers queued alerts (hooks never wait for a channel).
    const watchdog = startWatchdog(ctx!);
    running.web.snapshot.refresh().catch((err: Error) => ctx!.logger.error({ err: err.message }, 'initial scan failed'));
    if (listen.kind === 'tcp') {
      process.stdout.write(
        `TLSA Manager is listening on ${running.address}\nOpen this link to sign in (it works once, within 15 minutes; \`tlsa-manager login-link\` prints a new one):\n  ${loginUrl(running.address, running.web.newLoginLink())}\n`,
      );
    } else {
      process.stdout.write(`TLSA Manager is listening on ${running.address}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        watchdog.stop();
        running.close().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return { exitCode: 0 };
  },
};

/** --tls-cert/--tls-key: both or neither, read now so a wrong path is a clear usage error. */
function tlsOption(values: Values): { tls?: { cert: string; key: string } } {
  const cert = values['tls-cert'] as string | undefined;
  const key = values['tls-key'] as string | undefined;
  if (!cert && !key) return {};
  if (!cert || !key) throw new ProblemError(problem('usage', '--tls-cert and --tls-key go together.'));
  const read = (file: string, opt: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ProblemError(problem('usage', `${opt} ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`));
    }
  };
  return { tls: { cert: read(cert, '--tls-cert'), key: read(key, '--tls-key') } };
}

/**
 * `tlsa-manager login-link`: a fresh one-time link for the running standalone server. The server
 * records its address in the state database and redeems links from there, so only someone who
 * can open that root-only database can make one.
 */
export const loginLinkCommand: Command = {
  async run({ ctx }) {
    const address = ctx!.state().getMeta(WEB_ADDRESS_META);
    if (!address) throw new ProblemError(problem('usage', 'No standalone server has been started on this server.', { fix: 'Start one with: tlsa-manager serve --listen 127.0.0.1:8450' }));
    return { output: loginUrl(address, issueLoginLink(ctx!)), exitCode: 0 };
  },
};
