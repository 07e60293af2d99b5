import { spawn } from 'node:child_process';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, TYPE } from '../../src/providers/rfc2136/wire.js';
import { readTsig, sign, verify, verifyRequest, type TsigKey } from '../../src/providers/rfc2136/tsig.js';
import { requireComponents } from '../helpers/components.js';
import { newKey, startBindUpdate, type TsigSpec, type UpdateServer } from '../lab/update-servers.js';

/**
 * Our TSIG (src/providers/rfc2136/tsig.ts) against MACs made by other implementations, not by
 * itself: requests nsupdate and dig signed (BIND's libdns), and BIND's signed answers, captured
 * on the wire; plus the other direction, a request we signed that named accepts. Any flipped bit
 * must fail the check.
 */

requireComponents('rfc2136 TSIG', ['nsupdate', 'dig', 'named']);

const asKey = (k: TsigSpec): TsigKey => ({ name: k.name, algorithm: k.algorithm, secret: Buffer.from(k.secret, 'base64') });

/** Reads one length-prefixed DNS message from a byte stream. */
function frames(onFrame: (m: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      onFrame(pending.subarray(2, 2 + pending.readUInt16BE(0)));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
    }
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

function runTool(argv: string[], input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
    c.stdin.end(input);
  });
}

describe('TSIG against nsupdate, dig and named', () => {
  let bind: UpdateServer;
  const zone = 'tsig.example.com';
  beforeAll(async () => {
    bind = await startBindUpdate({ key: newKey('tlsa-manager', 'hmac-sha256'), zones: [{ name: zone, records: [] }] });
  });
  afterAll(async () => bind?.stop());

  for (const algorithm of ['hmac-sha256', 'hmac-sha512', 'hmac-sha384', 'hmac-sha224', 'hmac-sha1'] as const) {
    it(`verifies an UPDATE nsupdate signed with ${algorithm}, and no flipped bit or other secret passes`, async () => {
      const key = newKey('update-key.example', algorithm);
      let captured: Buffer | undefined;
      const srv = createServer((s) => s.on('data', frames((m) => {
        captured ??= Buffer.from(m);
        s.destroy();
      })));
      const port = await listen(srv);
      try {
        // -v: TCP. The server closes without answering; only the request matters here.
        await runTool(['nsupdate', '-v', '-t', '2', '-y', `${algorithm}:${key.name}:${key.secret}`], `server 127.0.0.1 ${port}\nzone ${zone}\nupdate add _25._tcp.mail.${zone}. 300 TLSA 3 1 1 ${'ab'.repeat(32)}\nsend\n`);
      } finally {
        srv.close();
      }
      expect(captured, 'nsupdate sent a message').toBeDefined();
      const msg = parseMessage(captured!);
      expect(msg.opcode).toBe(5);
      const tsig = msg.additional.at(-1)!;
      expect(tsig.type).toBe(TYPE.TSIG);
      expect(readTsig(captured!, tsig).algorithm).toBe(algorithm);
      expect(verifyRequest(captured!, msg.additional, asKey(key))).toBe(true);
      expect(verifyRequest(captured!, msg.additional, asKey({ ...key, secret: newKey().secret }))).toBe(false);
      // Not the ID (bytes 0-1): the MAC covers the Original ID instead (RFC 8945 §4.3.2), so a forwarder may change it.
      for (const at of [2, 3, 13, tsig.start - 1, tsig.rdataStart + 2]) {
        const bad = Buffer.from(captured!);
        bad[at]! ^= 0x01;
        let ok = false;
        try {
          const m = parseMessage(bad);
          ok = verifyRequest(bad, m.additional, asKey(key));
        } catch {
          ok = false;
        }
        expect(ok, `bit flipped at byte ${at}`).toBe(false);
      }
    });
  }

  it("verifies named's signed answer to a query dig signed (request MAC chained in), and rejects it altered", async () => {
    const k = bind.key;
    const seen: { request?: Buffer; answer?: Buffer } = {};
    const proxy = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(bind.port, bind.host);
      client.on('data', frames((m) => (seen.request ??= Buffer.from(m))));
      upstream.on('data', frames((m) => (seen.answer ??= Buffer.from(m))));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    const port = await listen(proxy);
    let out: string;
    try {
      out = (await runTool(['dig', '@127.0.0.1', '-p', String(port), '+tcp', '+norec', '+time=2', '+tries=1', '-y', `${k.algorithm}:${k.name}:${k.secret}`, zone, 'SOA'])).out;
    } finally {
      proxy.close();
    }
    // dig itself reports that it checked named's signature.
    expect(out).toMatch(/status: NOERROR/);
    expect(out).not.toMatch(/Couldn't verify signature|tsig verify failure/i);
    const req = parseMessage(seen.request!);
    const requestMac = readTsig(seen.request!, req.additional.at(-1)!).mac;
    const ans = parseMessage(seen.answer!);
    const signedAt = readTsig(seen.answer!, ans.additional.at(-1)!).timeSigned * 1000;
    expect(verify(seen.answer!, ans.additional, asKey(k), requestMac, signedAt)).toEqual({ ok: true });
    // Another request's MAC, another secret, a clock beyond the fudge, one flipped bit: all refused.
    expect(verify(seen.answer!, ans.additional, asKey(k), Buffer.alloc(requestMac.length), signedAt).ok).toBe(false);
    expect(verify(seen.answer!, ans.additional, asKey({ ...k, secret: newKey().secret }), requestMac, signedAt).ok).toBe(false);
    expect(verify(seen.answer!, ans.additional, asKey(k), requestMac, signedAt + 301_000)).toEqual({ ok: false, why: 'bad-time' });
    const bad = Buffer.from(seen.answer!);
    bad[ans.answer[0]!.end - 1]! ^= 0x01;
    expect(verify(bad, parseMessage(bad).additional, asKey(k), requestMac, signedAt).ok).toBe(false);
  });

  it('named accepts a query we signed, and refuses it signed with another secret (BADSIG)', async () => {
    const k = bind.key;
    const send = async (key: TsigKey): Promise<Buffer> => {
      const { buildMessage, CLASS, OPCODE } = await import('../../src/providers/rfc2136/wire.js');
      const { exchange } = await import('../../src/providers/rfc2136/transport.js');
      const q = buildMessage({ id: 4242, opcode: OPCODE.QUERY, question: [{ name: zone, type: TYPE.SOA, klass: CLASS.IN }] });
      const s = sign(q, key, Date.now());
      const [a] = await exchange(bind.server, [s.message], 5000);
      const m = parseMessage(a!);
      expect(m.id).toBe(4242);
      if (key === good) expect(verify(a!, m.additional, key, s.mac, Date.now())).toEqual({ ok: true });
      return a!;
    };
    const good = asKey(k);
    const ok = parseMessage(await send(good));
    expect(ok.rcode).toBe(0);
    expect(ok.answer.some((r) => r.type === TYPE.SOA)).toBe(true);
    const wrong = asKey({ ...k, secret: newKey().secret });
    const bad = await send(wrong);
    const m = parseMessage(bad);
    expect(m.rcode).toBe(9); // NOTAUTH
    expect(readTsig(bad, m.additional.at(-1)!).error).toBe(16); // BADSIG
  });
});
