// Each lab instance gets its own 127.X.Y.0/24 block and its own named port so parallel vitest
// workers never collide. A lock file per block makes the choice exclusive across processes:
// daemons bind with SO_REUSEPORT, so "nobody listens yet" alone is not enough.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LabAddresses {
  /**
   * BIND authoritative server: 127.0.0.1 on a high port. named only listens on addresses that
   * are configured on an interface, and of 127/8 only 127.0.0.1 is (unbound and Exim bind any).
   */
  named: string;
  namedPort: number;
  rndcPort: number;
  /** unbound validating resolver (port 53, unbound-control on 8953). */
  resolver: string;
  /** Exim (25, 465, 587). */
  exim: string;
  /** Lock file held while the lab runs; remove it to release the block. */
  lockPath: string;
}

const BLOCKS = 19_000; // block i <-> 127.(16 + i/256).(i%256).0/24 and named port 21000 + 2i
const LOCK_DIR = join(tmpdir(), 'tlsa-lab-locks');
let counter = 0;

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the block's lock file; a lock left by a dead process is taken over. */
function tryLock(path: string): boolean {
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (owner && alive(owner)) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

export async function pickAddresses(): Promise<LabAddresses> {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (let attempt = 0; attempt < 50; attempt++) {
    const seed = process.pid * 7919 + ++counter * 104_729 + (attempt ? Math.floor(Math.random() * 1e6) : 0);
    const i = seed % BLOCKS;
    const lockPath = join(LOCK_DIR, `block-${i}.lock`);
    if (!tryLock(lockPath)) continue;
    const base = `127.${16 + Math.floor(i / 256)}.${i % 256}`;
    const namedPort = 21_000 + 2 * i;
    const addrs = { named: '127.0.0.1', namedPort, rndcPort: namedPort + 1, resolver: `${base}.2`, exim: `${base}.3`, lockPath };
    const checks = await Promise.all([
      canListen(addrs.named, addrs.namedPort),
      canBindUdp(addrs.named, addrs.namedPort),
      canListen(addrs.named, addrs.rndcPort),
      canBindUdp(addrs.resolver, 53),
      canListen(addrs.resolver, 53),
      canListen(addrs.resolver, 8953),
      canListen(addrs.exim, 25),
      canListen(addrs.exim, 465),
      canListen(addrs.exim, 587),
    ]);
    if (checks.every(Boolean)) return addrs;
    rmSync(lockPath, { force: true });
  }
  throw new Error('lab: could not find a free 127.X.Y.0/24 block (something listens on 0.0.0.0:53 or :25?)');
}
