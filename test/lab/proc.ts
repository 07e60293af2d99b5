// Process helpers for the lab: run a command to completion, run a daemon in its own
// process group, and make sure nothing the lab started outlives the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, rmSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs argv to completion and captures its output; never throws on a non-zero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    // Own process group so a timeout can take down grandchildren (sh -c ... pipelines).
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs
      ? setTimeout(() => killGroup(child.pid, 'SIGKILL'), opts.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run() but throws with the command's stderr when it fails. */
export async function mustRun(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }
  return r.stdout;
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Everything alive that the lab started, so an 'exit' handler can kill it synchronously. */
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  // 'exit' does not run when a signal ends the process: clean up, then die of the same signal.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanup();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

export function trackPath(dir: string): void {
  installExitHook();
  liveDirs.add(dir);
}

export function untrackPath(dir: string): void {
  liveDirs.delete(dir);
}

export interface Daemon {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: () => boolean;
  stop: () => Promise<void>;
}

/** Starts a long-running daemon in its own process group, stdout+stderr appended to logPath. */
export function startDaemon(name: string, argv: readonly string[], logPath: string, cwd: string): Daemon {
  installExitHook();
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('startDaemon: empty argv');
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => {
    exited = true;
    if (child.pid) liveGroups.delete(child.pid);
  });
  child.on('error', () => (exited = true));
  if (child.pid) liveGroups.add(child.pid);
  child.unref();
  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
    // Children that left the group (rare) still belong to the group id; sweep it.
    killGroup(child.pid, 'SIGKILL');
  };
  return { name, child, logPath, exited: () => exited, stop };
}

export function logTail(path: string, lines = 30): string {
  if (!existsSync(path)) return '(no log file)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns true; fails with the daemon's name and log tail when the
 * daemon died or the deadline passed, so a broken start-up explains itself.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs?: number; daemon?: Daemon; intervalMs?: number } = {},
): Promise<void> {
  // TLSA_LAB_WAIT_MS lengthens every default wait (benchmarks sign thousands of names on a busy machine).
  const deadline = Date.now() + (opts.timeoutMs ?? (Number(process.env.TLSA_LAB_WAIT_MS) || 15_000));
  for (;;) {
    if (await probe()) return;
    const d = opts.daemon;
    if (d?.exited()) {
      throw new Error(`${d.name} exited while waiting for ${what}; log ${d.logPath}:\n${logTail(d.logPath)}`);
    }
    if (Date.now() > deadline) {
      const tail = d ? `; ${d.name} log ${d.logPath}:\n${logTail(d.logPath)}` : '';
      throw new Error(`timed out waiting for ${what}${tail}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}
