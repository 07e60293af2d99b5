// Smoke test of the end-to-end lab: DNSSEC status via the validating resolver, and DANE as
// judged by Postfix's posttls-finger against Exim with cPanel's SNI certificate rules.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';

/** `3 1 1` digest computed independently with the openssl CLI. */
function spkiSha256(certPath: string): string {
  const out = execFileSync('sh', [
    '-c',
    'openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r',
    'sh',
    certPath,
  ]).toString();
  return out.split(/\s+/)[0]!;
}

describe('test lab', () => {
  const lab = useLab({ zones: [{ name: 'smoke', signed: true, ds: true }] });

  it('resolver validates: AD for a signed zone with DS, none for unsigned or DS-less zones', async () => {
    const good = await lab().dig('mail.good.lab.test', 'A');
    expect(good.status).toBe('NOERROR');
    expect(good.answers.some((l) => l.includes(lab().exim))).toBe(true);
    expect(good.flags).toContain('ad');
    for (const name of ['mail.unsigned.lab.test', 'mail.nods.lab.test']) {
      const a = await lab().dig(name, 'A');
      expect(a.status).toBe('NOERROR');
      expect(a.flags).not.toContain('ad');
    }
  });

  it('posttls-finger verifies a matching 3 1 1 record and rejects a wrong one', async () => {
    const l = lab();
    const zone = 'smoke.lab.test';
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host], issuer: 'R2' });
    l.installCert(host, cert.combinedPem);
    const digest = spkiSha256(cert.leafPath);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);

    await l.setRecords(zone, [
      `_25._tcp.${host}. 60 IN TLSA 3 1 1 ${digest}`,
      `_465._tcp.${host}. 60 IN TLSA 3 1 1 ${digest}`,
    ]);
    const tlsa = await l.dig(`_25._tcp.${host}`, 'TLSA');
    expect(tlsa.flags).toContain('ad');

    const ok25 = await l.posttlsFinger(zone);
    expect(ok25.output).toContain(`${host}[${l.exim}]:25`);
    expect(ok25.verified).toBe(true);
    expect(ok25.matched?.toLowerCase()).toContain(`3 1 1 ${digest}`);

    const ok465 = await l.posttlsFinger(zone, { port: 465, implicitTls: true });
    expect(ok465.verified).toBe(true);

    // Port 465 presents another certificate: only that port must fail.
    const other = await l.issueCert({ names: [host], issuer: 'R1' });
    l.installCert(host, other.combinedPem, { port: 465 });
    const bad465 = await l.posttlsFinger(zone, { port: 465 });
    expect(bad465.verified).toBe(false);
    expect(bad465.untrusted).toBe(true);
    expect((await l.posttlsFinger(zone)).verified).toBe(true);
    l.removeCert(host, { port: 465 });

    const wrong = digest.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await l.setRecords(zone, [`_25._tcp.${host}. 60 IN TLSA 3 1 1 ${wrong}`]);
    await l.flushResolver();
    const bad25 = await l.posttlsFinger(zone);
    expect(bad25.verified).toBe(false);
    expect(bad25.untrusted).toBe(true);
    expect(bad25.output).toMatch(/no matching DANE TLSA records/);
  });
});
