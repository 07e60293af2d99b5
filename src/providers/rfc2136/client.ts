/**
 * RFC 2136 dynamic updates signed with TSIG, to a hidden primary (BIND, Knot, PowerDNS…).
 *
 * - populate: one TCP connection, one signed query per owner (TLSA, or TXT at `_smtp._tls.`),
 *   every answer's TSIG checked; only TLSA records and TLSRPT policies come back.
 * - apply: one UPDATE per zone. Its prerequisites (RFC 2136 §2.4) are the SOA record as read just
 *   before ("RRset exists, value dependent", §2.4.2) and every RRset it touches as read (the same,
 *   or "RRset does not exist", §2.4.3, where there was none), so a change someone made in between
 *   fails the update (NXRRSET) instead of being overwritten; then the zone is re-read and the
 *   update sent again, at most MAX_RETRIES times. A server that checks the SOA prerequisite
 *   against another serial than it serves (BIND with inline signing checks the unsigned zone's,
 *   docs/reference-notes.md) fails it with the served SOA unchanged: from then on that zone's
 *   updates rest on the RRset prerequisites alone. Deletes are exact (class NONE, §2.5.4) with the RDATA bytes
 *   the server sent, never whole-RRset deletes, so other records at the owner stay as they are.
 *   An add joins an RRset that keeps other records with that RRset's TTL: a different TTL would
 *   change the TTL of records we did not create (a server keeps one TTL per RRset, RFC 2181 §5.2).
 * - verify: a signed SOA query (key accepted, zone served here) and a prerequisite-only UPDATE
 *   (the key may update the zone; it changes nothing).
 * The TSIG secret appears in no message, problem or log line.
 */
import { randomInt } from 'node:crypto';
import { checkName, isSubdomainOf, printable } from '../../dns/names.js';
import { isManagedTxt, kindAtOwner, managedTxt, rrTypeOf, txtRecordFault, type ManagedRecord } from '../../dns/records.js';
import { problem, ProblemError, type Problem } from '../../problem.js';
import { tlsaRdataFault, type MatchingType, type Selector, type Usage } from '../../tlsa/types.js';
import { MAX_TTL } from '../../zonefile/ttl.js';
import type { ApplyResult, Change, DnsProvider, PublishedRecord } from '../contract.js';
import type { ProviderLogger, VerifyResult } from '../types.js';
import { sign, TSIG_ERROR, verify as verifyTsig, type TsigKey } from './tsig.js';
import { exchange, TransportError } from './transport.js';
import {
  buildMessage, CLASS, OPCODE, parseMessage, RCODE, rcodeName, soaRdata, tlsaRdata, txtRdata, txtStrings, TYPE, WireError,
  type Message, type RawRecord,
} from './wire.js';

/** Times an UPDATE is sent again after its SOA prerequisite failed (someone changed the zone meanwhile). */
export const MAX_RETRIES = 3;
/** Queries sent on one connection at most (a run asks a few owners per zone; this bounds a huge one). */
const QUERIES_PER_CONNECTION = 64;

export interface Rfc2136Options {
  /** `IP:PORT`. */
  server: string;
  key: TsigKey;
  /** When set, the only zones this instance may read or change. */
  zones?: string[];
  timeoutMs: number;
  /** How long apply waits for the server to serve the change (inline signing applies it a moment later). */
  confirmMs: number;
  logger: ProviderLogger;
  now(): number;
}

interface Answer {
  msg: Message;
  raw: Buffer;
}

/** The SOA read before an update, and the RRsets the update touches (key: rrsetKey). */
interface ZoneState {
  soa: { rdata: Buffer; serial: number };
  rrsets: Map<string, RawRecord[]>;
}

const rrsetKey = (owner: string, type: number) => `${owner.toLowerCase()}/${type}`;

export class Rfc2136Provider implements DnsProvider {
  readonly kind = 'rfc2136';
  /** Zones whose server tests the SOA prerequisite against a serial it does not serve (inline signing). */
  private readonly soaUnusable = new Set<string>();
  constructor(private readonly o: Rfc2136Options) {}

  // ---- talking to the server ------------------------------------------------------------

  private fail(p: Problem, zone?: string): never {
    throw new ProblemError(zone ? { ...p, subject: zone } : p);
  }

  private keyRejected(what: string, zone?: string): never {
    this.fail(
      problem('rfc2136-key-rejected', `${this.o.server} does not accept the TSIG key "${this.o.key.name}" (${what}); nothing was changed.`, {
        fix: 'Use the key name, algorithm and secret configured on the DNS server (BIND: the key statement; Knot: the key section, and an acl naming the key on the zone), and check both clocks (TSIG allows 5 minutes).',
      }),
      zone,
    );
  }

  /** Sends signed messages on one connection; every answer must carry a valid TSIG of our key. */
  private async send(messages: Buffer[], zone?: string, update = false): Promise<Answer[]> {
    // Once an UPDATE has left, only a verified answer tells whether the server applied it.
    const outcome = update ? 'the update may or may not have been applied; the next run reads the zone again' : 'nothing was changed';
    const signed = messages.map((m) => sign(m, this.o.key, this.o.now()));
    let raws: Buffer[];
    try {
      raws = await exchange(this.o.server, signed.map((s) => s.message), this.o.timeoutMs);
    } catch (err) {
      if (err instanceof TransportError) {
        this.fail(problem('rfc2136-no-answer', `The DNS server ${this.o.server} did not answer: ${err.message}; ${outcome}.`, { fix: 'Check the server address and port in the settings, that the DNS server runs, and that it accepts TCP from this server (firewall).' }), zone);
      }
      throw err;
    }
    return raws.map((raw, i) => {
      let msg: Message;
      try {
        msg = parseMessage(raw);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        this.fail(problem('rfc2136-answer-unverified', `The DNS server ${this.o.server} sent an answer that cannot be read (${err.message}); ${outcome}.`, { fix: 'Check that the address names a DNS server.' }), zone);
      }
      const v = verifyTsig(raw, msg.additional, this.o.key, signed[i]!.mac, this.o.now());
      if (!v.ok) {
        if (v.why === 'server-error') this.keyRejected(v.error === TSIG_ERROR.BADKEY ? 'unknown key name or algorithm, or (Knot) a key the zone\'s acl does not name: BADKEY' : v.error === TSIG_ERROR.BADTIME ? 'clocks differ by more than 5 minutes: BADTIME' : v.error === TSIG_ERROR.BADSIG ? 'wrong secret: BADSIG' : `TSIG error ${v.error}`, zone);
        // RFC 8945 §5.2: a server that cannot check the key answers NOTAUTH without a MAC.
        if (v.why === 'unsigned' && msg.rcode === RCODE.NOTAUTH) this.keyRejected('NOTAUTH, unsigned answer', zone);
        if (v.why === 'unsigned' && msg.rcode === RCODE.REFUSED) return { msg, raw };
        this.fail(problem('rfc2136-answer-unverified', `The answer from ${this.o.server} is not signed with the TSIG key "${this.o.key.name}" (${v.why}), so it is not trusted; ${outcome}.`, { fix: 'Check that the address names the DNS server that has this key, and that nothing between rewrites DNS.' }), zone);
      }
      return { msg, raw };
    });
  }

  private refused(what: string, zone: string, rcode: number): never {
    this.fail(
      problem('rfc2136-refused', `${this.o.server} refused ${what} for zone ${zone} (${rcodeName(rcode)}); nothing was changed.`, {
        fix: rcode === RCODE.NOTAUTH
          ? `The server is not authoritative for ${zone}: check that it serves the zone as its primary.`
          : `Allow the key "${this.o.key.name}" to update ${zone} on the server (BIND: allow-update { key "${this.o.key.name}"; }; or an update-policy; Knot: an acl with action update) and allow it to query the zone.`,
      }),
      zone,
    );
  }


  /**
   * Sends an UPDATE after a signed read of the zone went through with the same key. A TSIG
   * rejection now means the key is known but may not update the zone: Knot answers an ACL
   * denial with NOTAUTH/BADKEY (BIND says REFUSED), so it is reported as a refusal.
   */
  private async sendUpdate(msg: Buffer, zone: string): Promise<Answer> {
    try {
      const [a] = await this.send([msg], zone, true);
      return a!;
    } catch (err) {
      if (err instanceof ProblemError && err.problem.code === 'rfc2136-key-rejected') {
        this.fail(
          problem('rfc2136-refused', `${this.o.server} accepts the TSIG key "${this.o.key.name}" for queries but not to update zone ${zone} (NOTAUTH/BADKEY); nothing was changed.`, {
            fix: `Allow the key "${this.o.key.name}" to update ${zone} on the server (Knot: an acl with the key and action update on the zone; BIND: allow-update { key "${this.o.key.name}"; };).`,
          }),
          zone,
        );
      }
      throw err;
    }
  }

  private checkZone(zone: string): void {
    const z = zone.toLowerCase();
    if (this.o.zones && !this.o.zones.some((x) => x.toLowerCase() === z)) {
      throw new ProblemError(problem('rfc2136-zone-not-listed', `Zone ${zone} is not among the zones the provider ${this.o.server} is set up for.`, { fix: 'Add the zone to the instance\'s zone list in the settings, or set the zone to the provider that serves it.', subject: zone }));
    }
  }

  private query(name: string, type: number): Buffer {
    return buildMessage({ id: randomInt(0, 0x10000), opcode: OPCODE.QUERY, question: [{ name, type, klass: CLASS.IN }] });
  }

  /** Queries with distinct IDs, sent in batches on one connection each. */
  private async ask(questions: { name: string; type: number }[], zone: string): Promise<Answer[]> {
    const out: Answer[] = [];
    for (let i = 0; i < questions.length; i += QUERIES_PER_CONNECTION) {
      const batch = questions.slice(i, i + QUERIES_PER_CONNECTION);
      const ids = new Set<number>();
      const msgs = batch.map((q) => {
        let m = this.query(q.name, q.type);
        while (ids.has(m.readUInt16BE(0))) m = this.query(q.name, q.type);
        ids.add(m.readUInt16BE(0));
        return m;
      });
      const answers = await this.send(msgs, zone);
      answers.forEach((a, j) => {
        const rc = a.msg.rcode;
        if (rc === RCODE.REFUSED || rc === RCODE.NOTAUTH) this.refused(`a query for ${batch[j]!.name}`, zone, rc);
        if (rc !== RCODE.NOERROR && rc !== RCODE.NXDOMAIN) this.fail(problem('rfc2136-failed', `${this.o.server} failed a query for ${batch[j]!.name} (${rcodeName(rc)}).`, { fix: 'Look at the DNS server\'s log; try again later.' }), zone);
        if (a.msg.tc) this.fail(problem('rfc2136-failed', `${this.o.server} truncated a TCP answer for ${batch[j]!.name}.`, { fix: 'Look at the DNS server\'s log.' }), zone);
      });
      out.push(...answers);
    }
    return out;
  }

  /** The records of one RRset from an answer (owner and type exact; a CNAME or other names are not it). */
  private static rrset(a: Answer, owner: string, type: number): RawRecord[] {
    return a.msg.answer.filter((r) => r.name === owner.toLowerCase() && r.type === type && r.klass === CLASS.IN);
  }

  private async readSoa(zone: string): Promise<ZoneState['soa']> {
    const [a] = await this.ask([{ name: zone, type: TYPE.SOA }], zone);
    const soa = a!.msg.answer.find((r) => r.name === zone.toLowerCase() && r.type === TYPE.SOA && r.klass === CLASS.IN);
    if (!a!.msg.aa || !soa) {
      throw new ProblemError(problem('rfc2136-zone-not-found', `${this.o.server} does not serve zone ${zone} (no authoritative SOA record).`, { fix: `Check the zone name and that ${this.o.server} is the primary server of ${zone}.`, subject: zone }));
    }
    return soaRdata(a!.raw, soa);
  }

  // ---- the provider contract ------------------------------------------------------------

  async populate(zone: string, owners: string[]): Promise<PublishedRecord[]> {
    this.checkZone(zone);
    const wanted = [...new Set(owners.map((o) => o.toLowerCase()))].filter((o) => isSubdomainOf(o, zone.toLowerCase()));
    if (wanted.length === 0) return [];
    const answers = await this.ask(wanted.map((o) => ({ name: o, type: kindAtOwner(o) === 'TLSA' ? TYPE.TLSA : TYPE.TXT })), zone);
    const out: PublishedRecord[] = [];
    wanted.forEach((owner, i) => {
      const a = answers[i]!;
      if (kindAtOwner(owner) !== 'TLSA') {
        for (const r of Rfc2136Provider.rrset(a, owner, TYPE.TXT)) {
          let text: string;
          try {
            text = txtStrings(r.rdata).join('');
          } catch {
            continue;
          }
          // Only the managed TXT kinds (by their version tag); every other TXT record is not ours to read.
          const rec = managedTxt(owner, r.ttl, text);
          if (rec) out.push({ ...rec, id: r.rdata.toString('base64') });
        }
        return;
      }
      for (const r of Rfc2136Provider.rrset(a, owner, TYPE.TLSA)) {
        if (r.rdata.length < 4) continue;
        out.push({ owner, ttl: r.ttl, usage: r.rdata[0] as Usage, selector: r.rdata[1] as Selector, matchingType: r.rdata[2] as MatchingType, data: r.rdata.subarray(3).toString('hex'), id: r.rdata.toString('base64') });
      }
    });
    return out;
  }

  /** The record's RDATA: the bytes the server sent when we read it (exact deletes), else built from the fields. */
  private static rdataOf(r: ManagedRecord, existing?: PublishedRecord): Buffer {
    if (isManagedTxt(r)) {
      if (existing?.id) {
        const sent = Buffer.from(existing.id, 'base64');
        try {
          if (txtStrings(sent).join('') === r.text) return sent;
        } catch {
          /* not ours: build it */
        }
      }
      return txtRdata(r.text);
    }
    return tlsaRdata(r);
  }

  /** Why a change cannot be sent as it is, or null. */
  private static fault(zone: string, r: ManagedRecord): string | null {
    const owner = checkName(r.owner, { allowUnderscore: true });
    if (!owner.ok) return `the owner "${printable(String(r.owner))}" is not a valid name: ${owner.reason}`;
    if (!isSubdomainOf(owner.name, zone.toLowerCase())) return `the owner ${owner.name} is not in zone ${zone}`;
    if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > MAX_TTL) return `the TTL ${printable(String(r.ttl))} is not an integer 0-${MAX_TTL}`;
    if (kindAtOwner(owner.name) !== (isManagedTxt(r) ? r.kind : 'TLSA')) return 'the record kind does not belong at this owner';
    if (isManagedTxt(r)) return typeof r.text !== 'string' ? 'the text is not a string' : txtRecordFault(r);
    return tlsaRdataFault(r);
  }

  private async readState(zone: string, touched: string[]): Promise<ZoneState> {
    const soa = await this.readSoa(zone);
    const keys = [...new Set(touched)];
    const questions = keys.map((k) => {
      const [owner, type] = k.split('/');
      return { name: owner!, type: Number(type) };
    });
    const answers = await this.ask(questions, zone);
    const rrsets = new Map<string, RawRecord[]>();
    keys.forEach((k, i) => rrsets.set(k, Rfc2136Provider.rrset(answers[i]!, questions[i]!.name, questions[i]!.type)));
    return { soa, rrsets };
  }

  /** The UPDATE for `changes` against what was just read (RFC 2136 §2: zone, prerequisite, update). */
  private static updateMessage(zone: string, changes: Change[], state: ZoneState, useSoa: boolean): Buffer {
    const deletes: RawRecord[] = [];
    const adds: RawRecord[] = [];
    const deleted = new Map<string, Buffer[]>();
    for (const c of changes.filter((x) => x.kind === 'delete')) {
      const type = TYPE[rrTypeOf(c.record)];
      const rdata = Rfc2136Provider.rdataOf(c.record, c.existing);
      deletes.push({ name: c.record.owner.toLowerCase(), type, klass: CLASS.NONE, ttl: 0, rdata });
      const k = rrsetKey(c.record.owner, type);
      deleted.set(k, [...(deleted.get(k) ?? []), rdata]);
    }
    const ttlOf = new Map<string, number>();
    for (const c of changes.filter((x) => x.kind === 'create')) {
      const type = TYPE[rrTypeOf(c.record)];
      const k = rrsetKey(c.record.owner, type);
      if (!ttlOf.has(k)) {
        const gone = deleted.get(k) ?? [];
        const staying = (state.rrsets.get(k) ?? []).filter((r) => !gone.some((g) => g.equals(r.rdata)));
        ttlOf.set(k, staying[0]?.ttl ?? c.record.ttl);
      }
      adds.push({ name: c.record.owner.toLowerCase(), type, klass: CLASS.IN, ttl: ttlOf.get(k)!, rdata: Rfc2136Provider.rdataOf(c.record) });
    }
    return buildMessage({
      id: randomInt(0, 0x10000),
      opcode: OPCODE.UPDATE,
      question: [{ name: zone.toLowerCase(), type: TYPE.SOA, klass: CLASS.IN }],
      answer: [
        // §2.4.2: the SOA RRset must be exactly this one (serial included).
        ...(useSoa ? [{ name: zone.toLowerCase(), type: TYPE.SOA, klass: CLASS.IN, ttl: 0, rdata: state.soa.rdata }] : []),
        // Each RRset touched must be as read: §2.4.2 (value dependent) or §2.4.3 (does not exist).
        ...[...state.rrsets].flatMap(([k, rrs]): RawRecord[] => {
          const [owner, type] = k.split('/');
          return rrs.length === 0
            ? [{ name: owner!, type: Number(type), klass: CLASS.NONE, ttl: 0, rdata: Buffer.alloc(0) }]
            : rrs.map((r) => ({ name: owner!, type: Number(type), klass: CLASS.IN, ttl: 0, rdata: r.rdata }));
        }),
      ],
      // Deletes first: an add of the same RDATA after its delete is the order the planner meant.
      authority: [...deletes, ...adds],
    });
  }

  async apply(zone: string, changes: Change[]): Promise<ApplyResult> {
    const result: ApplyResult = { zone, provider: this.kind, applied: [] };
    if (changes.length === 0) return result;
    for (const c of changes) {
      const why = Rfc2136Provider.fault(zone, c.record);
      if (why) {
        const what = isManagedTxt(c.record) ? `${c.record.kind} TXT` : 'TLSA';
        const code = c.record.kind === 'TLSRPT' ? 'tlsrpt-record-invalid' : c.record.kind === 'MTASTS' ? 'mta-sts-record-invalid' : 'tlsa-record-invalid';
        return { ...result, problem: problem(code, `Zone ${zone}: a ${what} record to ${c.kind} cannot be sent: ${why}; nothing was changed.`, { fix: 'This is a bug in the caller: report it with the message.', subject: zone }) };
      }
    }
    try {
      this.checkZone(zone);
      const touched = changes.map((c) => rrsetKey(c.record.owner, TYPE[rrTypeOf(c.record)]));
      let failedSoa = null as Buffer | null;
      for (let attempt = 1; ; attempt++) {
        const state = await this.readState(zone, touched);
        if (failedSoa?.equals(state.soa.rdata)) {
          // The SOA prerequisite failed, yet the server serves that very SOA: it checks another one.
          this.soaUnusable.add(zone.toLowerCase());
          this.o.logger.info({ zone, server: this.o.server, serial: state.soa.serial }, 'rfc2136: the server checks the SOA prerequisite against a serial it does not serve (inline signing?); relying on the RRset prerequisites');
        }
        const useSoa = !this.soaUnusable.has(zone.toLowerCase());
        const a = await this.sendUpdate(Rfc2136Provider.updateMessage(zone, changes, state, useSoa), zone);
        const rc = a.msg.rcode;
        if (rc === RCODE.NOERROR) {
          const serial = await this.confirm(zone, state.soa.serial);
          return { ...result, applied: changes, details: { server: this.o.server, attempts: attempt, prerequisite: useSoa ? 'soa+rrsets' : 'rrsets', serialBefore: state.soa.serial, ...(serial !== undefined ? { serial } : {}) } };
        }
        if (rc === RCODE.NXRRSET || rc === RCODE.YXRRSET) {
          failedSoa = useSoa ? state.soa.rdata : null;
          if (attempt <= MAX_RETRIES) {
            this.o.logger.info({ zone, server: this.o.server, attempt, serial: state.soa.serial }, 'rfc2136: the zone changed since it was read; reading it again');
            continue;
          }
          return { ...result, problem: problem('rfc2136-conflict', `Zone ${zone} on ${this.o.server} changed while the update was being sent, ${attempt} times in a row; nothing was changed.`, { fix: 'Something else updates the zone constantly; run again later.', subject: zone }) };
        }
        if (rc === RCODE.REFUSED || rc === RCODE.NOTAUTH || rc === RCODE.NOTZONE) this.refused('the update', zone, rc);
        this.fail(problem('rfc2136-failed', `${this.o.server} failed the update of zone ${zone} (${rcodeName(rc)}); nothing was changed.`, { fix: 'Look at the DNS server\'s log (a journal it cannot write, a zone it cannot sign); then run again.' }), zone);
      }
    } catch (err) {
      if (err instanceof ProblemError) return { ...result, problem: err.problem };
      throw err;
    }
  }

  /**
   * Waits until the server serves a serial other than the one read before the update (inline
   * signing and some servers apply an accepted update a moment later), so the next read sees it.
   */
  private async confirm(zone: string, before: number): Promise<number | undefined> {
    const deadline = this.o.now() + this.o.confirmMs;
    for (;;) {
      const s = (await this.readSoa(zone)).serial;
      if (s !== before) return s;
      if (this.o.now() > deadline) {
        this.o.logger.warn({ zone, server: this.o.server, serial: s }, 'rfc2136: the server accepted the update but still serves the old serial');
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async verify(zone?: string): Promise<VerifyResult> {
    const zones = zone ? [zone] : (this.o.zones ?? []).slice(0, 20);
    const problems: Problem[] = [];
    try {
      if (zones.length === 0) {
        // A key is accepted per zone (Knot checks it against the zone's acl even for queries): without a zone there is nothing to test.
        const p = problem('bad-request', `Name a zone that ${this.o.server} serves to test the TSIG key "${this.o.key.name}" with.`, { fix: 'Enter a zone in the Test form, or list the zones in the instance\'s settings.' });
        return { ok: false, summary: p.message, problems: [p] };
      }
      for (const z of zones) {
        try {
          this.checkZone(z);
          await this.readSoa(z);
          // Prerequisite only (§2.4.1, "RRset exists, value independent"): the server checks the
          // key may update the zone, and there is nothing to change.
          const a = await this.sendUpdate(buildMessage({
            id: randomInt(0, 0x10000), opcode: OPCODE.UPDATE,
            question: [{ name: z, type: TYPE.SOA, klass: CLASS.IN }],
            answer: [{ name: z, type: TYPE.SOA, klass: CLASS.ANY, ttl: 0, rdata: Buffer.alloc(0) }],
          }), z);
          const rc = a.msg.rcode;
          if (rc === RCODE.REFUSED || rc === RCODE.NOTAUTH) this.refused('an update', z, rc);
          if (rc !== RCODE.NOERROR) this.fail(problem('rfc2136-failed', `${this.o.server} failed an empty update of zone ${z} (${rcodeName(rc)}).`, { fix: 'Look at the DNS server\'s log.' }), z);
        } catch (err) {
          if (!(err instanceof ProblemError)) throw err;
          problems.push(err.problem);
          // A key the server rejects fails every zone alike: say it once.
          if (err.problem.code === 'rfc2136-key-rejected' || err.problem.code === 'rfc2136-no-answer') break;
        }
      }
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      problems.push(err.problem);
    }
    const ok = problems.length === 0;
    return { ok, summary: ok ? `${this.o.server} accepts the TSIG key "${this.o.key.name}" and lets it update ${zones.join(', ')}.` : `${this.o.server}: ${problems[0]!.message}`, problems };
  }
}
