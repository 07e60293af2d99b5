// Each lab instance gets its own 127.X.Y.0/24 block so parallel vitest workers never collide.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

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
}

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

export async function pickAddresses(): Promise<LabAddresses> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // pid and a per-process counter make the choice distinct across workers; the attempt
    // number (and a little randomness after the first try) steps past taken blocks.
    const seed = process.pid * 7919 + ++counter * 104_729 + (attempt ? Math.floor(Math.random() * 1e6) : 0);
    const x = 16 + (seed % 235);
    const y = Math.floor(seed / 235) % 256;
    const base = `127.${x}.${y}`;
    const namedPort = 20_000 + 2 * (Math.floor(seed / 60_000) % 20_000);
    const addrs = { named: '127.0.0.1', namedPort, rndcPort: namedPort + 1, resolver: `${base}.2`, exim: `${base}.3` };
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
  }
  throw new Error('lab: could not find a free 127.X.Y.0/24 block (something listens on 0.0.0.0:53 or :25?)');
}
