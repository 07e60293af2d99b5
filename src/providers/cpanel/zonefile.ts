import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { ownDirectory, removeQuietly, removeStaleTemps, renameInto, writeNewFile, writeTempBeside } from '../../util/durable-write.js';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { ProviderHost } from '../types.js';
import type { CpanelSettings } from './index.js';
import { isServiceOwner, parseZoneText, readParsedZone, readServiceRecords, zoneFilePath } from '../../cpanel/local-zones.js';
import { DnsClient, parseResolver } from '../../resolver/stub-client.js';
import { isProblem, problem, ProblemError, toProblem, type Problem } from '../../problem.js';
import { recordKey } from '../../tlsa/types.js';
import type { ApplyResult, Change, DnsProvider, PublishedRecord } from '../contract.js';
import { managedKey, managedTxt, rrTypeOf, type ManagedRecord } from '../../dns/records.js';
import { editZone, nextSerial, tlsaRecordsAt, managedTxtRecordsAt, type ParsedZone, type ZoneRecord } from '../../zonefile/index.js';

const run = promisify(execFile);

/** What the zone-file provider uses: the server's files, the journal, the clock and its settings. */
export type ZoneFileHost = Pick<ProviderHost, 'root' | 'now' | 'journalStep'> & { cpanel: CpanelSettings };
const BACKUPS_KEPT = 5;

/**
 * The server's own zones (BIND or PowerDNS, `/var/named/<zone>.db`) on a server without WHM API 1
 * (plain BIND/PowerDNS servers, tests): reads and edits the zone file itself and reloads.
 */
export function createZoneFileProvider(ctx: ZoneFileHost): DnsProvider {
  return {
    kind: 'cpanel',
    populate: async (zone, owners) => populateFromZoneFile(ctx, zone, owners),
    apply: async (zone, changes) => applyGuarded(zone, changes, () => writeZoneFile(ctx, zone, changes)),
    recover: async (zone, inEffect) => {
      removeStaleTemps(zoneFileTarget(ctx, zone, zoneFilePath(zone)));
      await reload(ctx, zone);
      await confirmServed(ctx, zone, inEffect);
    },
  };
}

/**
 * The managed records at `owners` as the zone file holds them (fast, and exactly what dnsadmin
 * writes, so the WHM API 1 provider reads this way too): TLSA records and managed TXT records (TLSRPT, MTA-STS).
 */
export function populateFromZoneFile(ctx: ZoneFileHost, zone: string, owners: string[]): PublishedRecord[] {
  // TLSA and TLS-RPT owners are underscore names: the records kept from the scan's parse answer for them.
  const parsed = owners.every(isServiceOwner) ? readServiceRecords(ctx.root, zone) : readParsedZone(ctx.root, zone);
  if (isProblem(parsed)) throw new ProblemError(parsed);
  const tlsa: PublishedRecord[] = tlsaRecordsAt(parsed, owners).map((r) => ({ owner: r.owner, ttl: r.ttl, usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data }));
  const reports: PublishedRecord[] = managedTxtRecordsAt(parsed, owners).map((r) => ({ kind: r.kind, owner: r.owner, ttl: r.ttl, text: r.text }) as PublishedRecord);
  return [...tlsa, ...reports];
}

/** The zone's lines holding managed records at `owners`, by managedKey (a record written twice has two lines). */
function managedLines(parsed: ParsedZone, owners: string[]): Map<string, ZoneRecord[]> {
  const present = new Map<string, ZoneRecord[]>();
  const add = (k: string, r: ZoneRecord) => {
    const list = present.get(k);
    if (list) list.push(r);
    else present.set(k, [r]);
  };
  for (const r of tlsaRecordsAt(parsed, owners)) add(recordKey(r), r);
  for (const r of managedTxtRecordsAt(parsed, owners)) add(managedKey(r), r);
  return present;
}

/** A zone's apply never throws: a failure becomes the result's problem (nothing was changed). */
export async function applyGuarded(zone: string, changes: Change[], write: () => Promise<ApplyResult>): Promise<ApplyResult> {
  if (changes.length === 0) return { zone, provider: 'cpanel', applied: [] };
  try {
    return await write();
  } catch (err) {
    return { zone, provider: 'cpanel', applied: [], problem: toProblem(err, 'apply-failed', zone) };
  }
}

/** The zone file as it is now (no cache: the writer holds the zone's lock and edits this text). */
function readZone(ctx: ZoneFileHost, zone: string): { text: string; parsed: ParsedZone; path: string } {
  const path = zoneFilePath(zone);
  const text = ctx.root.readText(path);
  if (text === null) throw new ProblemError(problem('zone-missing', `${path} does not exist.`, { subject: zone }));
  const parsed = parseZoneText(ctx.root, zone, text);
  if (isProblem(parsed)) throw new ProblemError(parsed);
  return { text, parsed, path };
}

/**
 * Edit `/var/named/<zone>.db` where there is no WHM API (plain BIND/PowerDNS servers, tests):
 * change only TLSA lines at the owners we manage, bump the serial, check the result with
 * named-checkzone, write a temp file and rename it over the old one (same owner and mode), keep
 * a backup, reload, and confirm at the authoritative server that the change is served. Any failure
 * after the rename puts the previous file back. The caller holds the zone's lock.
 */
async function writeZoneFile(ctx: ZoneFileHost, zone: string, changes: Change[]): Promise<ApplyResult> {
  const { text, parsed, path } = readZone(ctx, zone);
  if (!parsed.soa) throw new ProblemError(problem('zone-no-soa', `${path} has no SOA record; it will not be edited.`, { subject: zone }));
  const owners = [...new Set(changes.map((c) => c.record.owner))];
  // Every line holding the record: a record written twice is only gone when both lines are.
  const present = managedLines(parsed, owners);
  const remove: ZoneRecord[] = [];
  const add: ManagedRecord[] = [];
  const applied: Change[] = [];
  for (const c of changes) {
    const existing = present.get(managedKey(c.record));
    if (c.kind === 'delete' && existing) {
      const included = existing.find((r) => r.file !== undefined);
      if (included) throw new ProblemError(problem('zone-include', `${c.record.owner} comes from the $INCLUDE file ${included.file}; TLSA Manager does not edit included files.`, { subject: zone, fix: 'Move the record into the zone file or remove it by hand.' }));
      remove.push(...existing);
      applied.push(c);
    } else if (c.kind === 'create' && !existing) {
      add.push(c.record);
      applied.push(c);
    }
  }
  if (applied.length === 0) return { zone, provider: 'cpanel', applied: [] };

  const serial = nextSerial(parsed.soa.serial, new Date(ctx.now()));
  // editZone re-parses its result and refuses unless it holds exactly old − removed + added.
  const edited = editZone(text, parsed, { remove, add, serial });

  const file = zoneFileTarget(ctx, zone, path);
  const st = statSync(file);
  const owner = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  removeStaleTemps(file);
  const tmp = writeTempBeside(file, edited, owner);
  try {
    await checkZone(zone, tmp, dirname(file));
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  keepBackup(ctx, zone, text);
  renameInto(tmp, file);
  ctx.journalStep(zone, 'written');
  try {
    await reload(ctx, zone);
    await confirmServed(ctx, zone, applied, serial);
  } catch (err) {
    // The old records come back under a serial above the one just written: a server (or an
    // inline-signing raw zone) that already loaded the edit refuses to go back to a lower one.
    const restored = editZone(text, parsed, { remove: [], add: [], serial: nextSerial(serial, new Date(ctx.now())) });
    renameInto(writeTempBeside(file, restored, owner), file);
    ctx.journalStep(zone, 'restored');
    await reload(ctx, zone).catch(() => undefined);
    const p = err instanceof ProblemError ? err.problem : problem('zone-reload-failed', (err as Error).message, { subject: zone });
    return { zone, provider: 'cpanel', applied: [], problem: { ...p, message: `${p.message} The previous zone file was restored.` } };
  }
  return { zone, provider: 'cpanel', applied, details: { via: 'zone file', serial } };
}


async function checkZone(zone: string, file: string, cwd: string): Promise<void> {
  try {
    await run('named-checkzone', ['-q', '-i', 'local', zone, file], { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new ProblemError(problem('checkzone-missing', `named-checkzone is not installed, so the edit of ${zone} cannot be checked; nothing was written.`, { subject: zone, fix: 'Install BIND utilities (bind-utils / bind9-utils).' }));
    }
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n')[0] ?? '';
    throw new ProblemError(problem('checkzone-failed', `named-checkzone rejected the edited ${zone}: ${out.replace(file, basename(file))}; nothing was written.`, { subject: zone }));
  }
}

/**
 * The file to edit for `path`: the zone file itself, or the target of a link that stays inside
 * the zone directory. A link leading anywhere else (planted to make root overwrite another file)
 * is refused, as is anything but a regular file.
 */
function zoneFileTarget(ctx: ZoneFileHost, zone: string, path: string): string {
  const file = ctx.root.path(path);
  const dir = realpathSync(dirname(file));
  const real = realpathSync(file);
  if (!real.startsWith(`${dir}/`) || !statSync(real).isFile()) {
    throw new ProblemError(problem('zone-file-link', `${path} is a symbolic link that leads out of the zone directory (or not to a regular file); TLSA Manager does not write through it.`, { subject: zone, fix: `Replace the link with the zone file itself, or move the zone file into ${dirname(path)}.` }));
  }
  return real;
}

/** A copy of the zone as it was, under our own root-only directory (never through a link). */
function keepBackup(ctx: ZoneFileHost, zone: string, text: string): void {
  const dir = ctx.root.path('/var/lib/tlsa-manager/backups');
  ownDirectory(dir);
  const stamp = new Date(ctx.now()).toISOString().replace(/[:.]/g, '-');
  writeNewFile(`${dir}/${zone}.db.${stamp}.${randomBytes(4).toString('hex')}`, text, { mode: 0o600 });
  const old = readdirSync(dir).filter((f) => f.startsWith(`${zone}.db.`)).sort();
  for (const f of old.slice(0, Math.max(0, old.length - BACKUPS_KEPT))) removeQuietly(`${dir}/${f}`);
}

async function reload(ctx: ZoneFileHost, zone: string): Promise<void> {
  const [cmd, ...args] = ctx.cpanel.reloadCommand.map((a) => a.replaceAll('{zone}', zone));
  try {
    await run(cmd!, args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new ProblemError(problem('zone-reload-failed', `Reloading ${zone} failed (${cmd}: ${(e.stderr ?? e.message).trim().split('\n')[0]}).`, { subject: zone, fix: 'Check that the DNS server is running and the reload command in the settings is right.' }));
  }
}

/** "zone reload queued" says nothing: ask the authoritative server until it serves the change. */
async function confirmServed(ctx: ZoneFileHost, zone: string, applied: Change[], serial?: number): Promise<void> {
  const target = ctx.cpanel.authoritative;
  if (target === false) return;
  const client = new DnsClient(parseResolver(target), { cache: false, timeoutMs: 1000, retries: 0 });
  const queries = [...new Map(applied.map((c) => [`${c.record.owner} ${rrTypeOf(c.record)}`, { owner: c.record.owner, type: rrTypeOf(c.record) }])).values()];
  const deadline = Date.now() + ctx.cpanel.confirmSeconds * 1000;
  for (;;) {
    const served = new Set<string>();
    for (const { owner, type } of queries) {
      const a = await client.query(owner, type);
      for (const r of a.records) {
        if (type === 'TXT') {
          const txt = managedTxt(owner, 0, (r.data as string[]).join(''));
          if (txt) served.add(managedKey(txt));
          continue;
        }
        const t = r.data as { usage: number; selector: number; matchingType: number; data: string };
        served.add(recordKey({ owner, usage: t.usage as 0, selector: t.selector as 0, matchingType: t.matchingType as 0, data: t.data }));
      }
    }
    if (applied.every((c) => served.has(managedKey(c.record)) === (c.kind === 'create'))) return;
    if (Date.now() > deadline) {
      throw new ProblemError(await notServed(client, target, zone, serial, applied.length));
    }
    await sleep(200);
  }
}

/**
 * Why the server does not serve the change. One cause is common and silent: with `inline-signing
 * yes`, BIND loads the new file into the unsigned zone and passes the difference to the signed one
 * through a journal capped by `max-journal-size` (default: twice the zone's size). A change larger
 * than that (a first publish of dozens of records into a small zone) is never signed; named only
 * logs `receive_secure_serial: unchanged`. The server then still serves the old serial, signed.
 */
async function notServed(client: DnsClient, target: string, zone: string, serial: number | undefined, count: number): Promise<Problem> {
  const soa = await client.query(zone, 'SOA').catch(() => null);
  const dnskey = await client.query(zone, 'DNSKEY').catch(() => null);
  const served = (soa?.records[0]?.data as { serial?: number } | undefined)?.serial;
  if (serial !== undefined && served !== undefined && served !== serial && dnskey !== null && dnskey.records.length > 0) {
    return problem('zone-inline-signing-stuck', `The DNS server at ${target} loaded nothing of the edit of ${zone}: it still serves serial ${served}, signed, instead of ${serial}. The zone is signed inline, and BIND passes a reload to the signed zone through a journal capped by max-journal-size (default: twice the zone file); this change of ${count} record(s) did not fit, so it was never signed (named logs "receive_secure_serial: unchanged").`, {
      subject: zone,
      fix: `Add "max-journal-size unlimited;" to the zone "${zone}" block in named.conf, run "rndc reconfig" and "rndc sync -clean ${zone}" (the signed copy missed this change and must start from the file again), then run apply again. Or publish fewer records at a time (apply --domain for a few domains at a time) on a zone that has not missed a change yet.`,
    });
  }
  const what = served === undefined ? 'does not answer for the zone' : serial === undefined ? `serves serial ${served}` : `serves serial ${served}, not ${serial}`;
  return problem('zone-not-served', `The DNS server at ${target} still does not serve the new TLSA records of ${zone} after the reload (it ${what}).`, { subject: zone, fix: 'Check the DNS server log (journalctl -u named) for errors loading the zone.' });
}
