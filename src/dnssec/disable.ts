/**
 * Switching signing off without taking the zone down: refused while the parent still has a DS
 * (the zone would go bogus); `--after-ds-gone` records the intent and the timer stops signing
 * once the DS has been gone for the parent's DS TTL plus the zone's DNSKEY TTL.
 */
import { migrate } from '../state/schema.js';
import type Database from 'better-sqlite3';
import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { DnsClient } from '../resolver/stub-client.js';
import { normalizeName } from '../dns/names.js';
import { providerFor, Providers } from '../provider-instances.js';
import { problem, type Code } from '../problem.js';
import { disableOne, safeDisableOrder, type SignerChange } from './enable.js';
import { dnssecStatus } from './status.js';
import { watchZones } from './watch.js';

/** When the DS TTL cannot be seen any more (already gone): the common TLD DS TTL, one day. */
export const UNKNOWN_DS_TTL = 86_400;


export interface DisableIntent {
  zone: string;
  created: number;
  dsTtl: number;
  dnskeyTtl: number;
  /** First time the parent was seen without a DS (null while it still has one). */
  goneSince: number | null;
}

class IntentStore {
  constructor(private readonly db: Database.Database) {
    migrate(db);
  }
  put(i: DisableIntent): void {
    this.db.prepare('INSERT INTO dnssec_intent (zone, created, ds_ttl, dnskey_ttl, gone_since) VALUES (?, ?, ?, ?, ?) ON CONFLICT(zone) DO UPDATE SET ds_ttl = MAX(ds_ttl, excluded.ds_ttl), dnskey_ttl = MAX(dnskey_ttl, excluded.dnskey_ttl)').run(i.zone, i.created, i.dsTtl, i.dnskeyTtl, i.goneSince);
  }
  setGoneSince(zone: string, t: number | null): void {
    this.db.prepare('UPDATE dnssec_intent SET gone_since = ? WHERE zone = ?').run(t, zone);
  }
  remove(zone: string): void {
    this.db.prepare('DELETE FROM dnssec_intent WHERE zone = ?').run(zone);
  }
  all(): DisableIntent[] {
    return (this.db.prepare('SELECT * FROM dnssec_intent ORDER BY zone').all() as { zone: string; created: number; ds_ttl: number; dnskey_ttl: number; gone_since: number | null }[]).map((r) => ({ zone: r.zone, created: r.created, dsTtl: r.ds_ttl, dnskeyTtl: r.dnskey_ttl, goneSince: r.gone_since }));
  }
}

export function disableIntents(ctx: AppContext): DisableIntent[] {
  return new IntentStore(ctx.state().db).all();
}

/** Pure: may the timer stop signing now? */
export function intentDue(i: DisableIntent, dsPresent: boolean, now: number): { due: boolean; goneSince: number | null } {
  if (dsPresent) return { due: false, goneSince: null };
  const goneSince = i.goneSince ?? now;
  return { due: now - goneSince >= (i.dsTtl + i.dnskeyTtl) * 1000, goneSince };
}

async function ttls(ctx: AppContext, zone: string, resolver?: string): Promise<{ ds: number | null; dnskey: number | null }> {
  const client = new DnsClient(resolverFor(ctx, resolver));
  const [ds, key] = await Promise.all([client.query(zone, 'DS', { checkingDisabled: true }), client.query(zone, 'DNSKEY', { checkingDisabled: true })]);
  const max = (a: typeof ds) => (a.records.length ? Math.max(...a.records.map((r) => r.ttl)) : null);
  return { ds: max(ds), dnskey: max(key) };
}

export async function disableSigning(ctx: AppContext, zones: string[], opts: { afterDsGone?: boolean; resolver?: string; actor?: string; now?: number } = {}): Promise<SignerChange[]> {
  const names = [...new Set(zones.map((z) => normalizeName(z, 'zone')))];
  const providers = new Providers(ctx);
  const local = new LocalZones(ctx.root).names;
  const now = opts.now ?? ctx.now();
  const statuses = await dnssecStatus(ctx, names, opts.resolver ? { resolver: opts.resolver } : {});
  const out: SignerChange[] = [];
  for (const s of statuses) {
    const kind = providerFor(s.zone, ctx, local);
    const refuse = (code: Code, message: string, fix?: string): SignerChange => ({ zone: s.zone, ok: false, signer: kind, signing: s.signing, ds: s.parentDs, message, problem: problem(code, message, { subject: s.zone, ...(fix ? { fix } : {}) }) });
    if (!kind) {
      out.push(refuse('dnssec-not-managed', `${s.zone} is not served from this server or by a configured DNS provider; nothing to switch off here.`));
      continue;
    }
    if (s.signing === 'off') {
      out.push({ zone: s.zone, ok: true, unchanged: true, signer: kind, signing: 'off', ds: [], message: `${s.zone} is not being signed (${kind}); nothing to do.` });
      continue;
    }
    if (s.state === 'unknown' && s.failed.length > 0 && !opts.afterDsGone) {
      out.push(refuse('dnssec-parent-unreachable', `Could not see whether the parent of ${s.zone} still has a DS (${s.failed.join('; ')}); nothing was changed.`, 'Try again when the parent answers, or use --after-ds-gone and let the timer wait.'));
      continue;
    }
    if (opts.afterDsGone) {
      const t = await ttls(ctx, s.zone, opts.resolver);
      new IntentStore(ctx.state().db).put({ zone: s.zone, created: now, dsTtl: t.ds ?? UNKNOWN_DS_TTL, dnskeyTtl: t.dnskey ?? 3600, goneSince: null });
      watchZones(ctx, [s.zone], now);
      const message = `Recorded: signing of ${s.zone} stops once its DS has been gone from the parent for ${t.ds ?? UNKNOWN_DS_TTL} s (DS TTL) + ${t.dnskey ?? 3600} s (DNSKEY TTL).${s.parentDs.length ? ' Remove the DS at the registrar now.' : ''}`;
      ctx.state().logActivity({ actor: opts.actor ?? 'cli', kind: 'dnssec', zone: s.zone, subject: s.zone, detail: message, ok: true });
      out.push({ zone: s.zone, ok: true, signer: kind, signing: s.signing, ds: s.parentDs, message });
      continue;
    }
    if (s.parentDs.length > 0) {
      const t = await ttls(ctx, s.zone, opts.resolver);
      out.push(refuse('dnssec-ds-present', `The parent of ${s.zone} still has a DS for it: stopping signing now would make ${s.zone} bogus (every lookup fails); nothing was changed. The safe order:\n${safeDisableOrder(s.zone, t.ds, t.dnskey)}`));
      continue;
    }
    const r = await disableOne(ctx, providers, s.zone, kind);
    if (r.ok) ctx.state().logActivity({ actor: opts.actor ?? 'cli', kind: 'dnssec', zone: s.zone, subject: s.zone, detail: r.message, ok: true });
    out.push(r);
  }
  return out;
}

/**
 * The timer's half of `--after-ds-gone`: for each recorded intent, stop signing once the parent
 * has had no DS for long enough; while the DS is there, wait (and start the clock again).
 */
export async function processDisableIntents(ctx: AppContext, opts: { now?: number; resolver?: string } = {}): Promise<SignerChange[]> {
  const store = new IntentStore(ctx.state().db);
  const intents = store.all();
  if (intents.length === 0) return [];
  const now = opts.now ?? ctx.now();
  const statuses = await dnssecStatus(ctx, intents.map((i) => i.zone), { signers: false, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
  const providers = new Providers(ctx);
  const local = new LocalZones(ctx.root).names;
  const done: SignerChange[] = [];
  for (const i of intents) {
    const s = statuses.find((x) => x.zone === i.zone)!;
    if (s.state === 'unknown') continue; // cannot see the parent: do nothing, try next time
    const d = intentDue(i, s.parentDs.length > 0, now);
    if (d.goneSince !== i.goneSince) store.setGoneSince(i.zone, d.goneSince);
    if (!d.due) continue;
    const kind = providerFor(i.zone, ctx, local);
    if (!kind) {
      store.remove(i.zone);
      continue;
    }
    const r = await disableOne(ctx, providers, i.zone, kind);
    ctx.state().logActivity({ actor: 'timer', kind: 'dnssec', zone: i.zone, subject: i.zone, detail: r.ok ? `${r.message} The DS had been gone since ${new Date(d.goneSince!).toISOString()}.` : r.message, ok: r.ok });
    if (r.ok) store.remove(i.zone);
    done.push(r);
  }
  return done;
}
