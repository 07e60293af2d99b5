import { execFileSync } from 'node:child_process';
import { realpathSync, statSync, type Stats } from 'node:fs';
import { posix, sep } from 'node:path';
import { checkName, printable } from '../dns/names.js';
import { canonicalType, parseZone, ZoneSyntaxError, type ParsedZone, type ZoneRecord } from '../zonefile/index.js';
import { MANAGED_KINDS, rrTypeOf } from '../dns/records.js';
import type { Entry } from '../zonefile/lexer.js';
import { isProblem, problem, type Problem } from '../problem.js';
import { describeReadError, MAX_ZONE_BYTES, readBounded } from '../util/bounded-read.js';
import type { ServerRoot } from '../util/server-root.js';
import { SealedSet, StampedValue } from '../util/change-stamp.js';
import { parseTtl } from '../zonefile/ttl.js';

const NAMED_DIR = '/var/named';

/** Server path of a zone's file (`/var/named/<zone>.db`); `zone` must be a validated name. */
export function zoneFilePath(zone: string): string {
  return `${NAMED_DIR}/${zone}.db`;
}

/** The closest enclosing zone of `name` in `zones`, walking up its labels (no scan of all zones). */
export function enclosingZone(name: string, zones: Set<string>): string | null {
  let n = name;
  for (;;) {
    if (zones.has(n)) return n;
    const dot = n.indexOf('.');
    if (dot < 0) return null;
    n = n.slice(dot + 1);
  }
}

function stampOf(st: Stats | null): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
}

/** A zone file's text as read, with every file it was read from (the zone file, then its includes). */
export interface ZoneText {
  text: string;
  parsed: ParsedZone;
  /** Real paths and stamps of the files read, so a cache notices a changed include. */
  files: { path: string; stamp: string }[];
}

/**
 * Reads `/var/named/<zone>.db` and parses it, following `$INCLUDE` only to regular files inside
 * the zone directory (after symbolic links), all files together at most MAX_ZONE_BYTES. What it
 * refuses becomes a Problem naming the zone, the line and the kind of problem, never the content
 * of an included file.
 */
export function readZoneText(root: ServerRoot, zone: string, text?: string): ZoneText | Problem {
  const path = zoneFilePath(zone);
  const files: { path: string; stamp: string }[] = [];
  let budget = MAX_ZONE_BYTES;
  let dir: string;
  try {
    dir = realpathSync.native(root.path(NAMED_DIR));
  } catch (err) {
    return problem('zone-unreadable', `The zone directory ${NAMED_DIR} ${describeReadError(err)}.`, { subject: zone, severity: 'error' });
  }
  const readInside = (serverPath: string): string => {
    let real: string;
    try {
      real = realpathSync.native(root.path(serverPath));
    } catch (err) {
      throw new Error(describeReadError(err));
    }
    if (!real.startsWith(dir + sep)) throw new Error(`leads outside the zone directory ${NAMED_DIR} through a symbolic link; TLSA Manager reads zone files only inside it`);
    let bytes: Buffer;
    try {
      bytes = readBounded(real, budget);
    } catch (err) {
      throw new Error(describeReadError(err));
    }
    budget -= bytes.length;
    files.push({ path: real, stamp: stampOf(statSync(real, { throwIfNoEntry: false }) ?? null) });
    return bytes.toString('utf8');
  };

  let main: string;
  if (text === undefined) {
    try {
      main = readInside(path);
    } catch (err) {
      const code = (err as Error).message === 'does not exist' ? 'zone-missing' : 'zone-unreadable';
      return problem(code, `${path} ${(err as Error).message}.`, { subject: zone, severity: 'error' });
    }
  } else {
    main = text;
  }
  try {
    const parsed = parseZone(main, zone, {
      readInclude: (p: string) => {
        // Relative names are relative to named's directory, which cPanel sets to /var/named.
        const serverPath = posix.normalize(p.startsWith('/') ? p : `${NAMED_DIR}/${p}`);
        if (!serverPath.startsWith(`${NAMED_DIR}/`)) {
          throw new Error(`is outside the zone directory ${NAMED_DIR}: TLSA Manager follows includes only inside it (by design: it reads them as root)`);
        }
        return readInside(serverPath);
      },
    });
    const unknown = confirmOpaqueTypes(root, zone, parsed, dir);
    if (unknown) return unknown;
    return { text: main, parsed, files };
  } catch (err) {
    if (err instanceof ZoneSyntaxError) return syntaxProblem(zone, err);
    return problem('zone-unreadable', `${path} ${describeReadError(err)}.`, { subject: zone, severity: 'error' });
  }
}

function syntaxProblem(zone: string, err: ZoneSyntaxError): Problem {
  const path = zoneFilePath(zone);
  const where = err.file !== undefined ? `${path}, $INCLUDE file ${printable(err.file)} line ${err.line}` : `${path} line ${err.line}`;
  return problem('zone-syntax', `${where}: ${err.reason}`, {
    subject: zone,
    fix: 'Fix the zone file (named-checkzone shows the same place); TLSA Manager will not edit a zone it cannot read exactly.',
    severity: 'error',
  });
}

/**
 * A type mnemonic the parser does not know is fine when the installed BIND knows it (a newer
 * type): the records are kept byte for byte. Only named-checkzone can say so.
 */
function confirmOpaqueTypes(root: ServerRoot, zone: string, parsed: ParsedZone, dir: string): Problem | null {
  if (parsed.opaqueTypes.length === 0) return null;
  const first = parsed.records.find((r) => r.opaque)!;
  // The type is named only when it is in the zone file itself: an include's content is never shown.
  const what = parsed.records.some((r) => r.opaque && r.file !== undefined)
    ? `a record type in ${first.file !== undefined ? `$INCLUDE file ${printable(first.file)} ` : ''}line ${first.line}`
    : `line ${first.line}: record type ${parsed.opaqueTypes.map((t) => printable(t, 32)).join(', ')}`;
  const fail = (why: string) =>
    problem('zone-unknown-type', `${zoneFilePath(zone)} ${what} is not known to TLSA Manager, and ${why}.`, {
      subject: zone,
      fix: 'Correct the record type (named-checkzone -i local shows the same place), or install a BIND that knows it.',
      severity: 'error',
    });
  try {
    execFileSync('named-checkzone', ['-q', '-i', 'local', '-w', dir, zone, root.path(zoneFilePath(zone))], { timeout: 60_000, stdio: 'pipe' });
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    if (e.code === 'ENOENT') return fail('named-checkzone is not installed to confirm that BIND knows it');
    return fail('named-checkzone rejects the zone');
  }
}

/** Parse a zone file's text as given (the writer's, under the zone lock), following `$INCLUDE` as readZoneText. */
export function parseZoneText(root: ServerRoot, zone: string, text: string): ParsedZone | Problem {
  const r = readZoneText(root, zone, text);
  return isProblem(r) ? r : r.parsed;
}

/** A zone file read and parsed in full for the caller; of it only the records at underscore owners are kept (see serviceCache). */
export function readParsedZone(root: ServerRoot, zone: string): ParsedZone | Problem {
  const path = zoneFilePath(zone);
  const mainStamp = stampOf(root.stat(path));
  const r = readZoneText(root, zone);
  // A refusal is not kept: what fixes it may be a file it could not read (a missing include).
  if (isProblem(r)) {
    serviceCache.get(root)?.delete(path);
    return r;
  }
  rememberServiceRecords(root, path, mainStamp, r);
  return r.parsed;
}

interface CachedServiceRecords {
  files: { path: string; stamp: string }[];
  mainStamp: string;
  result: ParsedZone;
}

/**
 * What the DNS providers read back from a zone file after the scan: the records of the managed
 * types at underscore owners (`_25._tcp.mail.example.com` TLSA, `_smtp._tls.example.com` TXT;
 * not cPanel's `_autodiscover._tcp` SRV in every zone), taken from the parse
 * the scan already made, so a zone is parsed once per run. Handed over once and then dropped, and
 * never whole parsed zones: a process-wide cache of those held ~65 MB at 10,000 zones, and the
 * records ~25 MB once every zone has its TLSA records (issue 10 §7). Validated by stat of the zone
 * file and of every file it included, so a file replaced by anyone (our own atomic rename
 * included) is read again.
 */
const serviceCache = new WeakMap<ServerRoot, Map<string, CachedServiceRecords>>();

function fresh(c: CachedServiceRecords, mainStamp: string): boolean {
  return c.mainStamp === mainStamp && c.files.every((f) => stampOf(statSync(f.path, { throwIfNoEntry: false }) ?? null) === f.stamp);
}

/** An owner name whose first label starts with an underscore (RFC 8552), where TLSA and TLS-RPT records live. */
export function isServiceOwner(owner: string): boolean {
  return owner.charCodeAt(0) === 95 /* _ */;
}

/** The DNS types of the record kinds TLSA Manager manages (TLSA, TXT): all a provider reads back. */
const MANAGED_TYPES = new Set<string>(MANAGED_KINDS.map((kind) => rrTypeOf({ kind })));

/** A record a provider may read back: a managed type at an underscore owner. */
function isManagedRecord(r: ZoneRecord): boolean {
  return isServiceOwner(r.owner) && MANAGED_TYPES.has(canonicalType(r.type));
}

function rememberServiceRecords(root: ServerRoot, path: string, mainStamp: string, r: ZoneText): void {
  let cache = serviceCache.get(root);
  if (!cache) serviceCache.set(root, (cache = new Map()));
  // Fresh strings: the parser's are slices of the file text, and would keep all of it alive.
  const records = r.parsed.records.filter(isManagedRecord).map((x) => structuredClone(x));
  cache.set(path, { files: r.files, mainStamp, result: { ...r.parsed, records } });
}

/**
 * The zone's TLSA and TXT records at underscore owners only (see serviceCache), as a ParsedZone
 * whose records are those: for questions about such records alone, never for an edit.
 */
export function readServiceRecords(root: ServerRoot, zone: string): ParsedZone | Problem {
  const path = zoneFilePath(zone);
  const mainStamp = stampOf(root.stat(path));
  const cache = serviceCache.get(root);
  const hit = cache?.get(path);
  cache?.delete(path);
  if (hit && fresh(hit, mainStamp)) return hit.result;
  const r = readZoneText(root, zone);
  if (isProblem(r)) return r;
  return { ...r.parsed, records: r.parsed.records.filter(isManagedRecord) };
}

/**
 * What can be read of a zone we refuse to edit: its records minus the entries that failed, and
 * whether nothing was skipped. Only to tell which MX hosts such a zone names; never edited.
 */
export function salvageZone(root: ServerRoot, zone: string): { parsed: ParsedZone; complete: boolean } | null {
  let text: string;
  try {
    text = readBounded(root.path(zoneFilePath(zone)), MAX_ZONE_BYTES).toString('utf8');
  } catch {
    return null;
  }
  let complete = true;
  try {
    const parsed = parseZone(text, zone, {
      salvage: (_err, entry) => {
        if (!mayHoldMx(entry)) return;
        complete = false;
      },
      // Includes are not followed here: whatever made the zone unreadable may be one of them.
      readInclude: () => {
        throw new Error('is not followed while salvaging');
      },
    });
    return { parsed, complete };
  } catch {
    return null;
  }
}

/**
 * Whether an entry we could not read may have been an MX record: only a record whose tokens
 * name the type (MX or TYPE15) can be one; a failed directive or lexer error may hide anything.
 */
function mayHoldMx(entry: Entry | null): boolean {
  if (entry === null) return true;
  const first = entry.tokens[0]!;
  if (!entry.initialWs && first.text.startsWith('$')) return true;
  return entry.tokens.some((t) => !t.quoted && /^(mx|type0*15)$/i.test(t.text));
}

const RECENT_ZONES = 64;

/** The zone directory's listing, read again only when its entries change (the directory's stamp). */
const zoneListing = new StampedValue<Set<string>>();

function localZoneNames(root: ServerRoot): Set<string> {
  return zoneListing.get([root.path(NAMED_DIR)], () => {
    const names: string[] = [];
    for (const f of root.list(NAMED_DIR)) {
      if (!f.endsWith('.db')) continue;
      const c = checkName(f.slice(0, -3));
      if (c.ok) names.push(c.name);
    }
    return new SealedSet(names);
  });
}

/** The zones whose files live on this server (`/var/named/<zone>.db`, BIND and PowerDNS on cPanel). */
export class LocalZones {
  /** Shared by every LocalZones of the same listing: cannot be changed (SealedSet). */
  readonly names: Set<string>;
  private readonly salvaged = new Map<string, { parsed: ParsedZone; complete: boolean } | null>();
  private readonly recent = new Map<string, ParsedZone | Problem>();

  constructor(private readonly root: ServerRoot) {
    this.names = localZoneNames(root);
  }

  zoneOf(name: string): string | null {
    return enclosingZone(name, this.names);
  }

  /**
   * A zone parsed once per scan while it is in use: the scan asks for the same few zones many
   * times in a row (a domain's zone, its MX host's zone, the server's own), so the last
   * RECENT_ZONES are kept, not every zone of the server (issue 10 §7).
   */
  get(zone: string): ParsedZone | Problem {
    const hit = this.recent.get(zone);
    if (hit) {
      this.recent.delete(zone);
      this.recent.set(zone, hit);
      return hit;
    }
    const parsed = readParsedZone(this.root, zone);
    this.recent.set(zone, parsed);
    if (this.recent.size > RECENT_ZONES) this.recent.delete(this.recent.keys().next().value!);
    return parsed;
  }

  /** The readable part of a refused zone (once per scan). */
  salvage(zone: string): { parsed: ParsedZone; complete: boolean } | null {
    if (!this.salvaged.has(zone)) this.salvaged.set(zone, salvageZone(this.root, zone));
    return this.salvaged.get(zone)!;
  }
}

/**
 * How long resolvers may cache "no such record" for names in this zone (RFC 2308 §5: the lesser
 * of the SOA's TTL and its MINIMUM field); null when the zone file cannot be read or has no SOA.
 */
export function zoneNegativeTtl(root: ServerRoot, zone: string): number | null {
  const r = readZoneText(root, zone);
  if (isProblem(r)) return null;
  const parsed = r.parsed;
  const soa = parsed.records.find((r) => r.type === 'SOA' && r.owner === parsed.origin);
  const minimum = soa?.rdata.trim().split(' ').at(-1);
  if (!soa || !minimum) return null;
  try {
    return Math.min(soa.ttl, parseTtl(minimum));
  } catch {
    return null;
  }
}
