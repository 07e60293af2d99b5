// A fake DNS server for the `dnssec status` benchmark, in its own process: it answers both as the
// validating resolver (AD flag) and as the parent's authoritative server for N child zones of
// bench.test. Zone i: i % 3 == 0 secure (DS matches the key, key set signed), 1 signed without
// DS, 2 unsigned. Prints "PORT <n>" once listening.
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import * as packet from 'dns-packet';

const PARENT = 'bench.test';
// RFC 4034 §5.4's key (RSASHA1, 5): any supported algorithm does for the benchmark.
const KEY = Buffer.from('AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==', 'base64');
const FLAGS = 257;
const ALG = 5;
const rdata = Buffer.concat([Buffer.from([FLAGS >> 8, FLAGS & 255, 3, ALG]), KEY]);
let ac = 0;
for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
const TAG = (ac + ((ac >> 16) & 0xffff)) & 0xffff;
const wire = (name) => Buffer.concat([...name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0])]);
const now = Math.floor(Date.now() / 1000);

function kind(zone) {
  const m = /^z(\d+)\.bench\.test$/.exec(zone);
  return m ? ['secure', 'nods', 'unsigned'][Number(m[1]) % 3] : null;
}

function answer(q) {
  const [question] = q.questions;
  const name = question.name.toLowerCase();
  const res = { type: 'response', id: q.id, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, questions: q.questions, answers: [], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: packet.DNSSEC_OK, options: [] }] };
  let ad = false;
  if (name === PARENT) {
    ad = true;
    if (question.type === 'SOA') res.answers.push({ type: 'SOA', name, ttl: 60, data: { mname: `ns.${PARENT}`, rname: `hostmaster.${PARENT}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } });
  } else {
    const k = kind(name);
    if (!k) return { ...res, rcode: 'NXDOMAIN', flags: res.flags | (3 & 0) };
    ad = k === 'secure';
    if (question.type === 'SOA') res.answers.push({ type: 'SOA', name, ttl: 60, data: { mname: `ns.${PARENT}`, rname: `hostmaster.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } });
    if (question.type === 'DS' && k === 'secure') {
      const digest = createHash('sha256').update(wire(name)).update(rdata).digest();
      res.answers.push({ type: 'DS', name, ttl: 60, data: { keyTag: TAG, algorithm: ALG, digestType: 2, digest } });
    }
    if (question.type === 'DNSKEY' && k !== 'unsigned') {
      res.answers.push({ type: 'DNSKEY', name, ttl: 60, data: { flags: FLAGS, algorithm: ALG, key: KEY } });
      res.answers.push({ type: 'RRSIG', name, ttl: 60, data: { typeCovered: 'DNSKEY', algorithm: ALG, labels: 3, originalTTL: 60, expiration: now + 86400, inception: now - 3600, keyTag: TAG, signersName: name, signature: Buffer.alloc(128, 1) } });
    }
  }
  if (ad) res.flags |= packet.AUTHENTIC_DATA;
  return res;
}

const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  let q;
  try {
    q = packet.decode(msg);
  } catch {
    return;
  }
  sock.send(packet.encode(answer(q)), rinfo.port, rinfo.address);
});
sock.bind(0, '127.0.0.1', () => process.stdout.write(`PORT ${sock.address().port}\n`));
