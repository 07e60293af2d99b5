// One racer for test/integration/lock-race.test.ts: for each round, waits for the round's go file,
// then takes the lock the parent left stale (naming a dead process) and, while holding it, marks
// itself inside with an exclusive file. A second racer inside at the same time is a broken lock.
import { existsSync, openSync, closeSync, unlinkSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, rounds, distLock] = process.argv.slice(2);
const { withLock } = await import(distLock);
const lock = join(dir, 'zone.lock');
// Never outlive the test (its timeout is 120 s), even when it died without stopping us.
const giveUp = Date.now() + 130_000;
for (let r = 0; r < Number(rounds); r++) {
  const go = join(dir, `go-${r}`);
  while (!existsSync(go)) {
    // Spin rather than sleep: both racers start the round within microseconds of each other.
    if (Date.now() > giveUp) process.exit(2);
  }
  await withLock(lock, async () => {
    const inside = join(dir, `inside-${r}`);
    try {
      closeSync(openSync(inside, 'wx'));
    } catch {
      appendFileSync(join(dir, 'violations'), `round ${r}: pid ${process.pid} entered while another held the lock\n`);
      return;
    }
    await new Promise((res) => setTimeout(res, 5));
    unlinkSync(inside);
  }, { waitMs: 10_000 });
  appendFileSync(join(dir, `done-${r}`), `${process.pid}\n`);
}
