import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withLock } from '../../src/util/lock.js';

/**
 * The zone lock's stale takeover under a race: a lock left by a process that died, found stale by
 * two processes at the same moment, must still let only one of them in. Two child processes race
 * for it round after round (test/integration/lock-race-child.mjs); each round the lock names a
 * dead process again.
 */
const ROUNDS = 400;
const dir = mkdtempSync(join(tmpdir(), 'lock-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process can have: the kernel hands out pids below pid_max. */
const DEAD_PID = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));

/** Each round: leave a stale lock, start both racers, wait until both have been in. */
async function rounds(errors: string[]): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    writeFileSync(join(dir, 'zone.lock'), String(DEAD_PID));
    writeFileSync(join(dir, `go-${round}`), '');
    const done = join(dir, `done-${round}`);
    const until = Date.now() + 30_000;
    while (!(existsSync(done) && readFileSync(done, 'utf8').trim().split('\n').length === 2)) {
      if (Date.now() > until || errors.length > 0) throw new Error(`round ${round} did not finish: ${errors.join('')}`);
      await new Promise((res) => setTimeout(res, 1));
    }
  }
}

describe('withLock: taking over a stale lock', () => {
  it(`lets exactly one of two racing processes in, ${ROUNDS} rounds in a row`, async () => {
    const child = join(process.cwd(), 'test/integration/lock-race-child.mjs');
    const lib = join(process.cwd(), 'dist/util/lock.js');
    const racers = [0, 1].map(() => spawn(process.execPath, [child, dir, String(ROUNDS), lib], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const errors: string[] = [];
    for (const r of racers) r.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
    const exited = racers.map((r) => new Promise<number | null>((res) => r.on('exit', res)));
    try {
      await rounds(errors);
    } catch (err) {
      for (const r of racers) if (r.exitCode === null && r.signalCode === null) r.kill();
      throw err;
    }
    expect(await Promise.all(exited)).toEqual([0, 0]);
    expect(errors.join('')).toBe('');
    expect(existsSync(join(dir, 'violations')) ? readFileSync(join(dir, 'violations'), 'utf8') : '').toBe('');
    // Nothing is left behind: no lock, no takeover marker.
    expect(readdirSync(dir).filter((f) => f.includes('lock'))).toEqual([]);
  }, 120_000);

  it('also takes over when the process taking over a stale lock died in the middle (its marker is stale too)', async () => {
    const d = mkdtempSync(join(dir, 'marker-'));
    const lock = join(d, 'zone.lock');
    writeFileSync(lock, String(DEAD_PID));
    writeFileSync(`${lock}.takeover-${DEAD_PID}`, String(DEAD_PID - 1));
    let ran = false;
    await withLock(lock, async () => {
      ran = readFileSync(lock, 'utf8') === String(process.pid);
    }, { waitMs: 2000 });
    expect(ran).toBe(true);
    expect(readdirSync(d)).toEqual([]);
    // A live holder is never taken over: the wait runs out.
    writeFileSync(lock, String(process.ppid));
    await expect(withLock(lock, async () => undefined, { waitMs: 100 })).rejects.toThrow(`${lock} is held by process ${process.ppid}`);
  });
});
