/**
 * The DS to hand to the registrar, in the forms registrars ask for, and whether the zone publishes
 * CDS/CDNSKEY (RFC 7344, RFC 8078) so registries that scan for them pick the DS up on their own.
 */
import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { DnsClient, type DnskeyData, type DsData } from '../resolver/stub-client.js';
import { ALGORITHM_NAMES, DIGEST_NAMES, dnskeyLine, dsLine, keyTag, sameDs, type DnskeyRecord, type DsRecord } from './keys.js';
import { toDnskey, toDs } from './observe.js';
import { dnssecStatus, type DnssecStatus } from './status.js';

export interface DsField extends DsRecord {
  algorithmName: string;
  digestTypeName: string;
  /** Zone-file line. */
  line: string;
}
export interface DnskeyField extends DnskeyRecord {
  keyTag: number;
  algorithmName: string;
  line: string;
}
export interface ChildCopy {
  /** Any CDS (CDNSKEY) record is served at the apex. */
  published: boolean;
  /** RFC 8078 §4: the single "0 0 0 00" (CDS) or "0 3 0 AA==" (CDNSKEY) record asks for the DS to be removed. */
  deleteRequest: boolean;
  /** Every published CDS equals a DS we hand over (CDNSKEY: a key we hand over). */
  matches: boolean;
  /** null when the lookup failed. */
  error: string | null;
}
export interface Handover {
  zone: string;
  state: DnssecStatus['state'];
  reason: DnssecStatus['reason'];
  signing: DnssecStatus['signing'];
  ds: DsField[];
  dnskey: DnskeyField[];
  parentDs: DsRecord[];
  cds: ChildCopy;
  cdnskey: ChildCopy;
  /** One sentence on automatic pickup. */
  scanning: string;
}

export const SCANNING_REGISTRIES = ['.ch', '.li', '.se', '.nu', '.cz', '.sk'];

export function dsField(zone: string, d: DsRecord): DsField {
  return { ...d, algorithmName: ALGORITHM_NAMES[d.algorithm] ?? `algorithm ${d.algorithm}`, digestTypeName: DIGEST_NAMES[d.digestType] ?? `type ${d.digestType}`, line: dsLine(zone, d) };
}
export function dnskeyField(zone: string, k: DnskeyRecord): DnskeyField {
  return { ...k, keyTag: keyTag(k), algorithmName: ALGORITHM_NAMES[k.algorithm] ?? `algorithm ${k.algorithm}`, line: dnskeyLine(zone, k) };
}

/** Pure: what the zone serves as CDS/CDNSKEY compared with what we hand over. */
export function childCopy<T>(records: T[] | null, error: string | null, isDelete: (r: T) => boolean, ours: (r: T) => boolean): ChildCopy {
  if (records === null) return { published: false, deleteRequest: false, matches: false, error };
  const deleteRequest = records.length === 1 && isDelete(records[0]!);
  return { published: records.length > 0, deleteRequest, matches: records.length > 0 && !deleteRequest && records.every(ours), error: null };
}

export function scanningSentence(cds: ChildCopy, cdnskey: ChildCopy): string {
  const list = SCANNING_REGISTRIES.join(', ');
  if (cds.deleteRequest || cdnskey.deleteRequest) return 'The zone publishes an RFC 8078 delete request: registries that scan for it will remove the DS.';
  if (cds.published || cdnskey.published) {
    return cds.matches || cdnskey.matches
      ? `The zone publishes CDS/CDNSKEY for this key: registries that scan for them (${list}, …) add the DS on their own.`
      : 'The zone publishes CDS/CDNSKEY that do not match the key handed over here: fix the signer before a scanning registry copies them.';
  }
  return `The zone does not publish CDS/CDNSKEY: give the DS to the registrar by hand (registries such as ${list} could pick it up automatically if the signer published them).`;
}

export async function handover(ctx: AppContext, zone: string, opts: { resolver?: string; timeoutMs?: number } = {}): Promise<Handover> {
  const [status] = await dnssecStatus(ctx, [zone], opts);
  const s = status!;
  const client = new DnsClient(resolverFor(ctx, opts.resolver), { timeoutMs: opts.timeoutMs ?? 2000 });
  const [cdsA, cdnskeyA] = await Promise.all([client.query(s.zone, 'CDS', { checkingDisabled: true }), client.query(s.zone, 'CDNSKEY', { checkingDisabled: true })]);
  const okStatus = (a: typeof cdsA) => a.status === 'ok' || a.status === 'nodata';
  const cdsRecords = okStatus(cdsA) ? cdsA.records.map((r) => toDs(r.data as DsData)) : null;
  const cdnskeyRecords = okStatus(cdnskeyA) ? cdnskeyA.records.map((r) => toDnskey(r.data as DnskeyData)) : null;
  const cds = childCopy(cdsRecords, cdsA.error ?? cdsA.rcode, (r) => r.algorithm === 0 && r.keyTag === 0 && r.digestType === 0, (r) => s.ds.some((d) => sameDs(d, r)) || s.dnskey.some((k) => keyTag(k) === r.keyTag && k.algorithm === r.algorithm));
  const cdnskey = childCopy(cdnskeyRecords, cdnskeyA.error ?? cdnskeyA.rcode, (r) => r.algorithm === 0, (r) => s.dnskey.some((k) => k.publicKey === r.publicKey && k.algorithm === r.algorithm));
  return {
    zone: s.zone,
    state: s.state,
    reason: s.reason,
    signing: s.signing,
    ds: s.ds.map((d) => dsField(s.zone, d)),
    dnskey: s.dnskey.map((k) => dnskeyField(s.zone, k)),
    parentDs: s.parentDs,
    cds,
    cdnskey,
    scanning: scanningSentence(cds, cdnskey),
  };
}
