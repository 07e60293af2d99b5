// (1) TLSA computation throughput: our engine in one process vs the OpenSSL pipeline and
// GnuTLS danetool, one process per certificate, on a sample. Same certificates for all.
import { execFileSync, execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBundle } from '../dist/tlsa/certificate.js';
import { computeRdata } from '../dist/tlsa/records.js';
import { maxRssKB, ms } from './lib.mjs';

const root = process.argv[2];
const dir = join(root, 'var/cpanel/ssl/domain_tls');
const files = readdirSync(dir).filter((n) => !n.startsWith('.')).slice(0, 10000).map((n) => join(dir, n, 'combined'));
const inputs = files.map((f) => readFileSync(f));
const params = { usage: 3, selector: 1, matchingType: 1 };

let t0 = process.hrtime.bigint();
let sink = 0;
for (let i = 0; i < inputs.length; i++) {
  const rd = computeRdata(parseBundle(inputs[i], files[i]).certificates, params);
  sink += rd.data.length;
}
const oursMs = ms(t0);

const SAMPLE = 100;
const sample = files.slice(0, SAMPLE);
t0 = process.hrtime.bigint();
const viaOpenssl = [];
for (const f of sample) {
  viaOpenssl.push(execSync(`openssl x509 -in '${f}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl sha256 -r`, { encoding: 'utf8' }).split(' ')[0]);
}
const opensslMs = ms(t0);

let danetoolMs = null;
try {
  t0 = process.hrtime.bigint();
  for (const f of sample) execFileSync('danetool', ['--tlsa-rr', '--host', 'mail.example.test', '--port', '25', '--load-certificate', f], { stdio: ['ignore', 'pipe', 'ignore'] });
  danetoolMs = ms(t0);
} catch {
  danetoolMs = null;
}

// Same answers, or the comparison means nothing.
for (let i = 0; i < sample.length; i++) {
  const ours = computeRdata(parseBundle(readFileSync(sample[i]), sample[i]).certificates, params).data;
  if (ours !== viaOpenssl[i]) throw new Error(`mismatch with openssl for ${sample[i]}`);
}

console.log(JSON.stringify({
  certificates: inputs.length,
  oursPerSec: Math.round(inputs.length / (oursMs / 1000)),
  opensslPerSec: Math.round(SAMPLE / (opensslMs / 1000)),
  danetoolPerSec: danetoolMs === null ? null : Math.round(SAMPLE / (danetoolMs / 1000)),
  sample: SAMPLE,
  sink,
  maxRssKB: maxRssKB(),
}));
