/**
 * Which mail domains get an MTA-STS policy, what it says, and the `_mta-sts` TXT record the plan
 * should hold for each (pure). The TXT record announces the id of the policy last proven served
 * (the store's servedId), never the id of a policy only wanted: a sender that sees an id fetches
 * that policy at once (RFC 8461 §3.3), so the new id waits until the serve step has written the
 * new text and fetched it back over HTTPS (src/mtasts/serve.ts).
 */
import { canonicalName } from '../dns/names.js';
import { mtaStsOwner, type MtaStsRecord } from '../dns/records.js';
import { problem, type Problem } from '../problem.js';
import type { DomainReport } from '../cpanel/scan.js';
import { policyId, policyText, stsTxtText, type PolicySettings } from './policy.js';
import { goneOf, retirementOf, type GoneStep } from './retire.js';
import type { MtaStsDomainState, MtaStsMode } from './store.js';

export interface MtaStsSettings extends PolicySettings {
  /** `off`, `all`, or the mail domains that opt in (config mtaSts.publish). */
  publish: 'off' | 'all' | string[];
  /** The mode a domain without a stored state starts in (config mtaSts.mode). */
  mode: MtaStsMode;
}

/** The policy a mail domain should serve now. */
export interface WantedPolicy {
  domain: string;
  /** `none`: the domain is being turned off (retire.ts). */
  mode: MtaStsMode | 'none';
  /** For a none policy: the max_age of the policy senders may still hold (s). */
  heldMaxAge?: number;
  /** The MX hosts as the domain's MX records give them. */
  mx: string[];
  text: string;
  id: string;
}

/** A stored domain no longer on the server, and what becomes of its row (retire.ts goneOf). */
export type GoneDomain = { domain: string } & GoneStep;

/** The `_mta-sts` TXT record wanted for a domain, with the reason shown. */
export interface DesiredMtaSts extends MtaStsRecord {
  domain: string;
  reason: string;
}

/** Whether a domain is opted in by the settings. */
export function optedIn(domain: string, publish: MtaStsSettings['publish']): boolean {
  if (publish === 'off') return false;
  return publish === 'all' || publish.map(canonicalName).includes(canonicalName(domain));
}

/**
 * The policies wanted: one for each opted-in domain whose mail is handled here (cPanel routes it
 * locally and an MX host points here) and that has MX records (an implicit MX gives no name a
 * policy could list). The mode is the domain's own (stored), else the configured start mode.
 * A stored domain no longer opted in is being turned off (retire.ts): it wants its `mode: none`
 * policy until senders can hold nothing else, then it is listed in `retired` (nothing wanted:
 * the plan removes its record, remove.ts the rest). A stored domain the server no longer lists
 * (`listed`) is `gone` (retire.ts goneOf).
 */
export function wantedPolicies(domains: DomainReport[], settings: MtaStsSettings, stored: Map<string, MtaStsDomainState>, now = Date.now(), listed: Iterable<string> = domains.map((d) => d.domain)): { policies: WantedPolicy[]; problems: Problem[]; retired: string[]; gone: GoneDomain[] } {
  const policies: WantedPolicy[] = [];
  const problems: Problem[] = [];
  const retired: string[] = [];
  const gone: GoneDomain[] = [];
  // `listed`: every name the server lists, scanned or not (makePlan); `stored` holds only domains the scan
  // looked at (makePlan filters it on a run for some domains, or when the list could not be read), so absent means removed.
  const onServer = new Set([...listed].map(canonicalName));
  for (const [domain, state] of stored) {
    if (!onServer.has(canonicalName(domain))) {
      gone.push({ domain, ...goneOf(state, now) });
      continue;
    }
    if (optedIn(domain, settings.publish)) continue;
    const r = retirementOf(state, settings, now);
    if (r.step === 'remove') retired.push(domain);
    else policies.push({ domain, mode: 'none', mx: r.mx, text: r.text, id: r.id, ...(r.step === 'announce-none' ? { heldMaxAge: r.heldMaxAge } : {}) });
  }
  for (const d of settings.publish === 'off' ? [] : domains) {
    if (!optedIn(d.domain, settings.publish) || d.mail !== 'local' || d.refused) continue;
    if (!d.mx.some((m) => m.pointsHere)) continue;
    const mx = d.mx.filter((m) => !m.implicit).map((m) => m.host);
    const mode = stored.get(d.domain)?.mode ?? settings.mode;
    const text = policyText(mode, mx, settings);
    if (text === null) {
      problems.push(problem('mta-sts-no-mx', `${d.domain} has no MX record, so it gets no MTA-STS policy (a policy lists the MX names senders may deliver to).`, { subject: d.domain, fix: `Publish an MX record for ${d.domain} (cPanel » Email Routing / Zone Editor), or leave it out of mtaSts.publish.`, severity: 'info' }));
      continue;
    }
    policies.push({ domain: d.domain, mode, mx, text, id: policyId(text) });
  }
  return { policies: policies.sort((a, b) => a.domain.localeCompare(b.domain)), problems, retired: retired.sort(), gone: gone.sort((a, b) => a.domain.localeCompare(b.domain)) };
}

/**
 * The `_mta-sts` TXT records wanted, by zone: for each wanted policy that has been served, the
 * id of the policy served (the stale one if the new text is not served yet: see the file
 * comment). A domain whose policy was never served gets no record yet. `zoneOf` as for
 * desiredRecords.
 */
export function desiredMtaSts(policies: WantedPolicy[], stored: Map<string, MtaStsDomainState>, zoneOf: (name: string) => string | null, ttl: number): { byZone: Map<string, DesiredMtaSts[]>; problems: Problem[] } {
  const byZone = new Map<string, DesiredMtaSts[]>();
  const problems: Problem[] = [];
  for (const p of policies) {
    const served = stored.get(p.domain)?.servedId ?? null;
    if (served === null) {
      problems.push(problem('mta-sts-not-served', `The MTA-STS policy of ${p.domain} has not been fetched back over HTTPS yet, so its _mta-sts record is not published (senders would fetch a policy that is not there).`, { subject: p.domain, fix: `Let the next run serve it at https://mta-sts.${p.domain}/.well-known/mta-sts.txt (see "tlsa-manager mta-sts status ${p.domain}").`, severity: 'info' }));
      continue;
    }
    const record: DesiredMtaSts = { kind: 'MTASTS', owner: mtaStsOwner(p.domain), ttl, text: stsTxtText(served), domain: p.domain, reason: served === p.id ? p.mode === 'none' ? `MTA-STS: announces the mode none policy that turns MTA-STS off (RFC 8461 §8.3); the record goes once senders can hold no older policy` : `MTA-STS: announces the ${p.mode} policy served at https://mta-sts.${p.domain}/.well-known/mta-sts.txt` : `MTA-STS: announces the policy served now (the new one, id ${p.id}, is announced once it is served)` };
    const zone = zoneOf(p.domain);
    if (!zone) {
      problems.push(problem('mta-sts-not-managed', `No zone on this server or in the settings holds ${p.domain}, so its MTA-STS record must be added by hand: ${record.owner}. TXT "${record.text}".`, { subject: p.domain, fix: 'Add that TXT record at the DNS provider of the domain, or leave the domain out of mtaSts.publish.', severity: 'info' }));
      continue;
    }
    const list = byZone.get(zone);
    if (list) list.push(record);
    else byZone.set(zone, [record]);
  }
  return { byZone, problems };
}
