// rfc2136 provider: reading the managed owners with one signed query each (what populate does)
// vs one zone transfer (AXFR, read and parsed with the same wire reader), against a real BIND
// on loopback, for a zone of 10,000 TLSA records. Decides whether populate should transfer large
// zones (issue 25 §2: "or AXFR when the server allows it and the zone is large — measure").
// Run: npx vitest run -c bench/vitest.bench.config.ts bench/rfc2136-read.bench-run.ts
import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import { loadavg } from 'node:os';
import { expect, it } from 'vitest';
import { isProblem, ProblemError } from '../src/problem.js';
import { providerHost } from '../src/provider-instances.js';
import type { DnsProvider } from '../src/providers/contract.js';
import { providerModule } from '../src/providers/registry.js';
import { buildMessage, CLASS, OPCODE, parseMessage, TYPE } from '../src/providers/rfc2136/wire.js';
import { testContext } from '../test/helpers/context.js';
import { newKey, startBindUpdate, type UpdateServer } from '../test/lab/update-servers.js';

const ZONE = 'big.example.com';
const HOSTS = 2_500;
const hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** One AXFR over TCP: every message read and parsed until the closing SOA. Returns the record count. */
function axfr(s: UpdateServer): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let pending = Buffer.alloc(0);
    let records = 0;
    let soas = 0;
    const timer = setTimeout(() => (sock.destroy(), reject(new Error('AXFR timed out'))), 30_000);
    sock.on('error', reject);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const m = parseMessage(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
        if (m.rcode !== 0) return reject(new Error(`AXFR rcode ${m.rcode}`));
        for (const r of m.answer) {
          records++;
          if (r.type === TYPE.SOA && ++soas === 2) {
            clearTimeout(timer);
            sock.destroy();
            return resolve(records);
          }
        }
      }
    });
    sock.connect(s.port, s.host, () => {
      const q = buildMessage({ id: 7, opcode: OPCODE.QUERY, question: [{ name: ZONE, type: 252, klass: CLASS.IN }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      sock.write(Buffer.concat([len, q]));
    });
  });
}

async function median(n: number, f: () => Promise<unknown>): Promise<{ median: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    runs.push(Math.round((performance.now() - t) * 10) / 10);
  }
  return { median: [...runs].sort((a, b) => a - b)[Math.floor(n / 2)]!, runs };
}

it('reads owners by query vs by zone transfer', async () => {
  const records: string[] = [];
  for (let h = 0; h < HOSTS; h++) for (const port of [25, 465, 587]) records.push(`_${port}._tcp.mx${h}.${ZONE}.\t3600\tIN\tTLSA\t3 1 1 ${hex(`${h}-${port}`)}`);
  for (let h = 0; h < HOSTS; h++) records.push(`_25._tcp.mx${h}.${ZONE}.\t3600\tIN\tTLSA\t2 1 1 ${hex(`ca-${h}`)}`);
  const server = await startBindUpdate({ key: newKey(), zones: [{ name: ZONE, records }] });
  try {
    const p = await providerModule('rfc2136').create({ server: server.server, tsig: server.key, timeoutSeconds: 30 }, providerHost(testContext({})));
    if (isProblem(p)) throw new ProblemError(p);
    const provider: DnsProvider = p;
    const owners = (n: number) => Array.from({ length: n }, (_, i) => `_25._tcp.mx${i}.${ZONE}`);
    for (const n of [3, 30, 300]) expect((await provider.populate(ZONE, owners(n))).length).toBe(2 * n);
    const out: string[] = [];
    for (const n of [3, 30, 300]) {
      const m = await median(7, () => provider.populate(ZONE, owners(n)));
      out.push(`populate, ${n} owners (signed queries): median ${m.median} ms (${m.runs.join(', ')})`);
    }
    const count = await axfr(server);
    const m = await median(7, () => axfr(server));
    out.push(`AXFR of the zone (${count} records incl. both SOAs), read and parsed: median ${m.median} ms (${m.runs.join(', ')})`);
    console.log(`rfc2136 read, ${records.length} TLSA records in ${ZONE}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n${out.join('\n')}`);
  } finally {
    await server.stop();
  }
});
