import { ProblemError } from '../problem.js';
import { loginUrl, parseListen, startServer, type Listen } from '../web/server.js';
import type { Command } from './types.js';
import { startWatchdog } from '../alerts/watchdog.js';
import { Providers } from '../dns/registry.js';
import { recoverInterrupted } from '../plan/recover.js';

/**
 * `tlsa-manager serve --listen HOST:PORT | --socket PATH`: runs until SIGTERM/SIGINT, then stops
 * taking requests, lets running jobs finish and exits 0.
 */
export const serveCommand: Command = {
  async run({ ctx, values }) {
    const listenOpt = values.listen as string | undefined;
    const socketOpt = values.socket as string | undefined;
    if (listenOpt && socketOpt) throw new ProblemError({ code: 'usage', message: 'serve takes --listen or --socket, not both.' });
    const listen: Listen = socketOpt ? { kind: 'socket', path: socketOpt } : { kind: 'tcp', ...parseListen(listenOpt ?? '127.0.0.1:8450') };
    // A run killed while writing a zone is finished before the app shows any state.
    await recoverInterrupted(ctx!, new Providers(ctx!), 'serve');
    const token = process.env.TLSA_MANAGER_WEB_TOKEN || undefined;
    const running = await startServer(ctx!, listen, token ? { loginToken: token } : {});
    // The daemon watches the timer and delivers queued alerts (hooks never wait for a channel).
    const watchdog = startWatchdog(ctx!);
    running.web.snapshot.refresh().catch((err: Error) => ctx!.logger.error({ err: err.message }, 'initial scan failed'));
    if (listen.kind === 'tcp') {
      process.stdout.write(`TLSA Manager is listening on ${running.address}\nOpen this link to sign in (keep it secret):\n  ${loginUrl(running.address, running.web.loginToken)}\n`);
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
