import { describeReadError, MAX_CERT_BYTES, readBounded } from '../util/bounded-read.js';
import { normalizeName, tlsaOwner } from '../dns/names.js';
import { problem, ProblemError, isProblem } from '../problem.js';
import { parseBundle } from '../tlsa/certificate.js';
import { lintRecord } from '../tlsa/lint.js';
import { computeRdata } from '../tlsa/records.js';
import { formatRecord, parseParams, type TlsaRecord } from '../tlsa/types.js';
import { json, type Command } from './types.js';

function usage(message: string): never {
  throw new ProblemError(problem('usage', message));
}

/** `tlsa --cert FILE`: records for one certificate file, no server needed. */
export const tlsaCommand: Command = {
  needsContext: false,
  async run({ values }) {
    const file = values.cert as string | undefined;
    if (!file) usage('tlsa needs --cert FILE');
    const params = parseParams(`${values.usage ?? '3'} ${values.selector ?? '1'} ${values.matching ?? '1'}`);
    if (!params) usage('--usage must be 0-3, --selector 0-1, --matching 0-2');
    const ports = ((values.port as string[] | undefined) ?? ['25']).map((p) => {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 65535) usage(`--port "${p}" is not a port number`);
      return n;
    });
    let bytes: Buffer;
    try {
      bytes = readBounded(file, MAX_CERT_BYTES);
    } catch (err) {
      throw new ProblemError(problem('cert-unreadable', `${file}: ${describeReadError(err)}.`, { subject: file }));
    }
    const chain = parseBundle(bytes, file).certificates;
    const leaf = chain[0]!;
    const hostInput = (values.host as string | undefined) ?? leaf.dnsNames.find((n) => !n.startsWith('*.')) ?? leaf.commonName;
    if (!hostInput) usage('the certificate names no host; give --host');
    const host = normalizeName(hostInput, '--host');
    const rd = computeRdata(chain, params);
    if (isProblem(rd)) throw new ProblemError(rd);
    const records: TlsaRecord[] = ports.map((port) => ({ owner: tlsaOwner(port, host), ttl: 3600, ...rd }));
    const warnings = lintRecord(params, chain, { host, now: new Date() });
    for (const w of warnings) process.stderr.write(`warning: ${w.message}${w.fix ? ` ${w.fix}` : ''}\n`);
    if (values.json) {
      return { output: json(records.map((r, i) => ({ owner: r.owner, port: ports[i], usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data }))), exitCode: 0 };
    }
    return { output: records.map(formatRecord).join('\n'), exitCode: 0 };
  },
};
