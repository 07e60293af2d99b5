import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { hookEvent } from '../helpers/cpanel-fixtures.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

/**
 * Issue 26, Done-when 2: the service (`tlsa-manager serve --socket`, its own process, as systemd
 * runs it) is stopped by its PID, with SIGTERM and with SIGKILL, while a batch of hook events is
 * going through the hook client (plugin/bin/tlsa-manager-hook). Every event must get its answer,
 * from the service or from the client's fallback (today's Node.js hook), and afterwards a plan
 * has nothing left to do. The zones' reload command sleeps and leaves a mark, so the stop lands
 * while the service is inside an event (zone written, reload running, intent journalled).
 */
const CLIENT = join(process.cwd(), 'plugin/bin/tlsa-manager-hook');
const CLI = join(process.cwd(), 'dist/cli.js');
const ZONES = ['stop0.test', 'stop1.test', 'stop2.test', 'stop3.test'];
const EVENTS_PER_ZONE = 4;
const CONCURRENT = 4;
let pki: ReturnType<typeof makePki>;

beforeAll(() => {
  pki = makePki();
});

/** A root with ZONES published in zone-file mode, each MX host's certificate then replaced by a new one (work for every zone's first event). */
function preparedRoot(): { root: string; marks: string; newCerts: Map<string, string> } {
  const work = mkdtempSync(join(tmpdir(), 'tlsa-hookstop-'));
  const marks = join(work, 'reloads');
  writeFileSync(marks, '');
  const tls: Record<string, string> = {};
  for (const z of ZONES) tls[`mail.${z}`] = readFileSync(pki.leaf(`mail.${z}`, { sans: [`mail.${z}`, z] }).combined, 'utf8');
  const root = makeFakeRoot({
    domains: Object.fromEntries(ZONES.map((z, i) => [z, `stop${i}`])),
    local: ZONES,
    zones: Object.fromEntries(ZONES.map((z) => [z, cpanelZone(z, [`${z}. IN MX 10 mail.${z}.`, `mail.${z}. IN A 192.0.2.10`])])),
    domainTls: tls,
    // Each reload leaves a line and takes 0.4 s: the stop can be timed to land inside an event.
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['/bin/sh', '-c', `echo {zone} >> ${marks}; sleep 0.4`], authoritative: false } }) },
  });
  const applied = spawnSync(process.execPath, [CLI, 'apply', '--yes', '--root', root], { encoding: 'utf8' });
  expect(applied.status, applied.stderr).toBe(0);
  const newCerts = new Map<string, string>();
  for (const z of ZONES) {
    const next = pki.leaf(`mail.${z}`, { sans: [`mail.${z}`, z] });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', `mail.${z}`, 'combined'), readFileSync(next.combined, 'utf8'));
    newCerts.set(z, next.cert);
  }
  writeFileSync(marks, '');
  return { root, marks, newCerts };
}

function startService(root: string): Promise<{ proc: ChildProcess; sock: string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-hookstop-run-'));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  const sock = join(dir, 'run/web.sock');
  const proc = spawn(process.execPath, [CLI, 'serve', '--socket', sock, '--root', root], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return (async () => {
    for (let i = 0; i < 200 && !existsSync(sock); i++) await sleep(50);
    expect(existsSync(sock)).toBe(true);
    return { proc, sock, exited };
  })();
}

/** One event through the client as the installed wrapper runs it (empty environment). */
function client(sock: string, root: string, input: string): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn('/usr/bin/perl', [CLIENT, '--socket', sock, '--node', process.execPath, '--cli', CLI, '--root', root], { env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
    c.stdin.end(input);
  });
}

async function stopMidRun(signal: 'SIGTERM' | 'SIGKILL') {
  const { root, marks, newCerts } = preparedRoot();
  const svc = await startService(root);
  const events = Array.from({ length: ZONES.length * EVENTS_PER_ZONE }, (_, i) => ZONES[i % ZONES.length]!);
  const answers: string[] = new Array(events.length).fill('');
  let next = 0;
  let inFlight = 0;
  let stopped: { inFlight: number; answered: number } | null = null;
  let answered = 0;
  const worker = async () => {
    while (next < events.length) {
      const i = next++;
      inFlight++;
      answers[i] = await client(svc.sock, root, hookEvent('SSL-installssl-post', { domain: events[i] }));
      inFlight--;
      answered++;
    }
  };
  const run = Promise.all(Array.from({ length: CONCURRENT }, worker));
  // Stop the service by its PID as soon as it is inside a zone's reload (its first mark).
  const stopper = (async () => {
    while (readFileSync(marks, 'utf8') === '') await sleep(10);
    stopped = { inFlight, answered };
    process.kill(svc.proc.pid!, signal);
  })();
  await run;
  await stopper;
  const exit = await svc.exited;
  return { root, answers, events, stopped: stopped!, exit, newCerts };
}

describe('stopping the service in the middle of a run of hook events', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} by PID: every event is answered (by the service, or by the fallback once it is gone) and a plan afterwards has nothing to do`, async () => {
      const { root, answers, events, stopped, exit, newCerts } = await stopMidRun(signal);
      // The stop came while events were in flight and before the batch was through.
      expect(stopped.inFlight).toBeGreaterThan(0);
      expect(stopped.answered).toBeLessThan(events.length);
      if (signal === 'SIGTERM') expect(exit).toEqual({ code: 0, signal: null });
      else expect(exit.signal).toBe('SIGKILL');
      events.forEach((zone, i) => expect(answers[i]).toMatch(new RegExp(`^1 reconciled ${zone.replace('.', '\\.')}: \\d+ TLSA change\\(s\\)\\n$`)));
      // Every zone publishes its new key (TLSA 3 1 1 data computed by openssl).
      for (const z of ZONES) expect(readFileSync(join(root, 'var/named', `${z}.db`), 'utf8')).toContain(opensslTlsaData(newCerts.get(z)!, 1, 1));
      const plan = spawnSync(process.execPath, [CLI, 'plan', '--json', '--root', root], { encoding: 'utf8' });
      const zones = (JSON.parse(plan.stdout) as { zones: { zone: string; changes: unknown[] }[] }).zones;
      expect(zones.flatMap((z) => z.changes)).toEqual([]);
    }, 120_000);
  }
});
