import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, it } from 'vitest';
import { startFakeCloudflare } from '../fakes/cloudflare/server.js';
import {
  checkzoneWrapper, cleanup, cli, faultyApply, foreign, ledger, makeWorld, mountTmpfs, owners, published, resetReloadCounts, spawnApply, waitFor, whmapiHang, writeConfig, zoneValid, ZONES,
  type PathKind, type Rec, type World,
} from './harness.js';

/**
 * The fault matrix (issue 11): every publish path × every fault. After each: every zone valid,
 * no record lost, no foreign record touched, ledger (plus the journal of an interrupted run)
 * accounts for every record we published, and the next plain `apply` converges.
 */
interface Case {
  fault: string;
  /** Runs the faulty apply; returns an undo for the environment (mounts, config). */
  run(w: World): Promise<(() => void) | void>;
}

const killDuring = (fault: string, arm: (w: World) => NodeJS.ProcessEnv | void, pidFile: string): Case => ({
  fault,
  async run(w) {
    const env = arm(w) ?? {};
    const child = spawnApply(w, env);
    await waitFor(() => existsSync(join(w.lab, pidFile)));
    child.kill('SIGKILL');
    await once(child, 'exit');
    w.effect = 'killed (SIGKILL)';
  },
});

const twoRuns: Case = {
  fault: 'two runs at once',
  async run(w) {
    const a = spawnApply(w);
    const b = spawnApply(w);
    const codes = await Promise.all([once(a, 'exit'), once(b, 'exit')]);
    w.effect = `exit ${codes.map((c) => c[0]).join(' and ')}`;
  },
};

const resolverDown: Case = {
  fault: 'resolver down',
  async run(w) {
    writeConfig(w, (c) => void (c.resolver = '127.0.0.1:9'));
    await faultyApply(w);
    return () => writeConfig(w, () => undefined);
  },
};

const diskFull = (dir: string): Case => ({
  fault: `disk full (ENOSPC, ${dir})`,
  async run(w) {
    const undo = mountTmpfs(join(w.root, dir), { sizeKb: 256, fill: true });
    try {
      await faultyApply(w);
    } finally {
      undo();
    }
  },
});

const readOnly = (dir: string): Case => ({
  fault: `read-only filesystem (${dir})`,
  async run(w) {
    const undo = mountTmpfs(join(w.root, dir), { sizeKb: 1024, readOnly: true });
    try {
      await faultyApply(w);
    } finally {
      undo();
    }
  },
});

/** A UDP port that receives queries and never answers: an authoritative server not serving the change. */
async function silentDns(w: World): Promise<Socket> {
  const sock = createSocket('udp4');
  sock.on('message', () => writeFileSync(join(w.lab, 'queried'), 'x'));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  return sock;
}

const zonefileCases: Case[] = [
  killDuring('kill -9 during named-checkzone', (w) => ({ PATH: checkzoneWrapper(w, 'hang') }), 'checkzone.pid'),
  killDuring('kill -9 during the reload (after the rename)', (w) => {
    resetReloadCounts(w);
    writeFileSync(join(w.lab, 'reload.hang.f.test.1'), '');
  }, 'hung.pid'),
  killDuring('kill -9 while restoring after a failed reload', (w) => {
    resetReloadCounts(w);
    writeFileSync(join(w.lab, 'reload.fail.f.test.1'), '');
    writeFileSync(join(w.lab, 'reload.hang.f.test.2'), '');
  }, 'hung.pid'),
  {
    fault: 'kill -9 while confirming at the authoritative server',
    async run(w) {
      const dns = await silentDns(w);
      writeConfig(w, (c) => Object.assign(c.cpanel as object, { authoritative: `127.0.0.1:${dns.address().port}`, confirmSeconds: 30 }));
      const child = spawnApply(w);
      await waitFor(() => existsSync(join(w.lab, 'queried')));
      child.kill('SIGKILL');
      await once(child, 'exit');
      w.effect = 'killed (SIGKILL)';
      dns.close();
      return () => writeConfig(w, () => undefined);
    },
  },
  diskFull('var/named'),
  readOnly('var/named'),
  {
    fault: 'named-checkzone rejects the edit',
    async run(w) {
      await faultyApply(w, { PATH: checkzoneWrapper(w, 'reject') });
    },
  },
  {
    fault: 'reload fails',
    async run(w) {
      writeFileSync(join(w.lab, 'reload.fail'), '');
      await faultyApply(w);
      return () => rmSync(join(w.lab, 'reload.fail'));
    },
  },
  {
    fault: 'authoritative server does not serve the change',
    async run(w) {
      const dns = await silentDns(w);
      writeConfig(w, (c) => Object.assign(c.cpanel as object, { authoritative: `127.0.0.1:${dns.address().port}`, confirmSeconds: 2 }));
      await faultyApply(w);
      dns.close();
      return () => writeConfig(w, () => undefined);
    },
  },
  resolverDown,
  twoRuns,
];

const whmapiCases: Case[] = [
  killDuring('kill -9 during parse_dns_zone', (w) => void whmapiHang(w, 'parse_dns_zone', 'before'), 'hung.pid'),
  killDuring('kill -9 before mass_edit_dns_zone writes', (w) => void whmapiHang(w, 'mass_edit_dns_zone', 'before'), 'hung.pid'),
  killDuring('kill -9 after mass_edit_dns_zone wrote (answer not read)', (w) => void whmapiHang(w, 'mass_edit_dns_zone', 'after'), 'hung.pid'),
  diskFull('var/named'),
  readOnly('var/named'),
  resolverDown,
  twoRuns,
];

const BATCH = 'POST /zones/:zone_id/dns_records/batch';
const cfKill = (fault: string, route: string, when: 'before' | 'after'): Case => ({
  fault,
  async run(w) {
    let hit = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    w.cf!.fake.gate = async (r, at) => {
      if (r !== route || at !== when || hit) return;
      hit = true;
      await held;
      return 'reset';
    };
    const child = spawnApply(w);
    await waitFor(() => hit);
    child.kill('SIGKILL');
    await once(child, 'exit');
    w.effect = 'killed (SIGKILL)';
    release();
    w.cf!.fake.gate = null;
  },
});

const cloudflareCases: Case[] = [
  cfKill('kill -9 during the zone lookup', 'GET /zones', 'before'),
  cfKill('kill -9 while a batch is in flight (not applied)', BATCH, 'before'),
  cfKill('kill -9 after Cloudflare applied a batch (answer lost)', BATCH, 'after'),
  {
    fault: 'Cloudflare 5xx from the second zone on',
    async run(w) {
      let batches = 0;
      w.cf!.fake.gate = (r, at) => {
        if (r === BATCH && at === 'after' && ++batches === 1) w.cf!.fake.failNext(50, 503);
      };
      await faultyApply(w);
      w.cf!.fake.gate = null;
      w.cf!.fake.clearFaults();
    },
  },
  {
    fault: 'Cloudflare connection dropped (timeout) from the second batch on',
    async run(w) {
      let batches = 0;
      w.cf!.fake.gate = (r, at) => (r === BATCH && at === 'before' && ++batches > 1 ? 'reset' : undefined);
      await faultyApply(w);
      w.cf!.fake.gate = null;
    },
  },
  diskFull('var/lib/tlsa-manager'),
  readOnly('var/lib/tlsa-manager'),
  resolverDown,
  twoRuns,
];

const PATHS: [PathKind, Case[]][] = [
  ['zonefile', zonefileCases],
  ['whmapi', whmapiCases],
  ['cloudflare', cloudflareCases],
];

interface Outcome {
  path: PathKind;
  fault: string;
  effect: string;
  lost: number;
  foreignTouched: number;
  invalidZones: number;
  unaccounted: number;
  ledgerWrong: number;
  converged: boolean;
}
const outcomes: Outcome[] = [];
afterAll(() => {
  mkdirSync('test-output', { recursive: true });
  const cases = outcomes.length;
  const losses = outcomes.reduce((n, o) => n + o.lost, 0);
  writeFileSync('test-output/fault-matrix.json', JSON.stringify({ cases, losses, outcomes }, null, 2));
  outcomes.sort((a, b) => PATHS.findIndex((p) => p[0] === a.path) - PATHS.findIndex((p) => p[0] === b.path) || a.fault.localeCompare(b.fault));
  const rows = outcomes.map((o) => `| ${o.path} | ${o.fault} | ${o.effect} | ${o.lost} | ${o.foreignTouched} | ${o.invalidZones} | ${o.unaccounted} | ${o.ledgerWrong} | ${o.converged ? 'yes' : 'NO'} |`);
  writeFileSync(
    'test-output/fault-matrix.md',
    [`${cases} cases, ${losses} records lost`, '', '| path | fault | faulty run | lost | foreign touched | invalid zones | unaccounted | ledger wrong | converged |', '|---|---|---|---|---|---|---|---|---|', ...rows, ''].join('\n'),
  );
});

const before = (w: World): Record<string, Rec[]> => Object.fromEntries(ZONES.map((z) => [z, published(w, z)]));
const missing = (was: Rec[], now: Rec[]) => was.filter((r) => !now.includes(r)).length;

// Cases are independent worlds (own root, own fake Cloudflare API), so they run side by side:
// most of their time is spent waiting on child processes, retries and timeouts.
for (const [path, cases] of PATHS) {
  describe.concurrent(`fault matrix: ${path}`, () => {
    for (const c of cases) {
      it(c.fault, { timeout: 240_000 }, async ({ expect }) => {
        const cf = path === 'cloudflare' ? await startFakeCloudflare() : undefined;
        const w = await makeWorld(path, cf);
        try {
          const was = before(w);
          const undo = await c.run(w);
          if (typeof undo === 'function') undo();
          await sleep(50);
          const o: Outcome = { path, fault: c.fault, effect: w.effect ?? '', lost: 0, foreignTouched: 0, invalidZones: 0, unaccounted: 0, ledgerWrong: 0, converged: false };
          // Right after the fault: valid, nothing lost, foreign intact, every record of ours known.
          for (const z of ZONES) {
            const now = published(w, z);
            o.lost += missing(was[z]!, now);
            o.foreignTouched += missing(foreign(z), now);
            if (!zoneValid(w, z)) o.invalidZones++;
            if (existsSync(join(w.root, 'var/lib/tlsa-manager/state.db'))) {
              const { rows, journal } = ledger(w, z);
              const ours = now.filter((r) => owners(z).includes(r.split(' ')[0]!) && !foreign(z).includes(r));
              o.unaccounted += ours.filter((r) => rows.get(r) !== 1 && !journal.includes(r)).length;
            }
          }
          // The next plain run converges.
          const next = await cli(w, ['apply', '--yes']);
          const plan = await cli(w, ['plan', '--json']);
          const changes = plan.status === 0 ? (JSON.parse(plan.out) as { zones: { changes: unknown[] }[] }).zones.reduce((n, z) => n + z.changes.length, 0) : -1;
          o.converged = next.status === 0 && changes === 0;
          for (const z of ZONES) {
            const now = published(w, z);
            o.lost += missing(was[z]!, now);
            o.foreignTouched += missing(foreign(z), now);
            if (!zoneValid(w, z)) o.invalidZones++;
            const { rows, journal } = ledger(w, z);
            const atOwners = now.filter((r) => owners(z).includes(r.split(' ')[0]!));
            const expected = new Map(atOwners.map((r) => [r, foreign(z).includes(r) ? 0 : 1]));
            o.ledgerWrong += [...expected].filter(([r, flag]) => rows.get(r) !== flag).length + [...rows.keys()].filter((r) => !expected.has(r)).length + journal.length;
          }
          outcomes.push(o);
          expect(o, `${next.out}`).toEqual({ ...o, lost: 0, foreignTouched: 0, invalidZones: 0, unaccounted: 0, ledgerWrong: 0, converged: true });
        } finally {
          cleanup(w);
          cf?.fake.stop();
        }
      });
    }
  });
}
