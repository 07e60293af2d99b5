import type { Problem } from '../problem.js';
import type { TlsaRecord } from '../tlsa/types.js';
import type { ManagedRecord, MtaStsRecord, TlsrptRecord } from '../dns/records.js';
import type { ProviderDnssec, VerifyResult } from './types.js';

/**
 * The DNS side follows octoDNS/DNSControl: a provider `populate`s what is published at the owners
 * we manage, the planner (src/plan) diffs desired vs published into Changes, and the provider
 * `apply`s a zone's changes as one unit.
 */

/** What a provider knows of a record besides its content. */
export interface PublishedHandle {
  /** Provider-specific handle (Cloudflare record id, zone-file line index, …). */
  id?: string;
  /** True when the provider can tell we created it (Cloudflare comment marker). Zone files cannot. */
  markedOurs?: boolean;
}

export type PublishedTlsa = TlsaRecord & PublishedHandle;
export type PublishedTlsrpt = TlsrptRecord & PublishedHandle;
export type PublishedMtaSts = MtaStsRecord & PublishedHandle;
/** A managed TXT record (TLSRPT, MTA-STS) as published. */
export type PublishedTxt = PublishedTlsrpt | PublishedMtaSts;
/** A managed record (TLSA, TLSRPT, MTA-STS; see records.ts) as published by a provider. */
export type PublishedRecord = PublishedTlsa | PublishedTlsrpt | PublishedMtaSts;

export type ChangeKind = 'create' | 'delete';

export interface Change {
  kind: ChangeKind;
  zone: string;
  record: ManagedRecord;
  /** For deletes: the published record (carries the provider id). */
  existing?: PublishedRecord;
  /** Why, in words an admin understands ("new certificate key for mail.example.com"). */
  reason: string;
}

export interface ApplyResult {
  zone: string;
  provider: string;
  applied: Change[];
  /** Set when the zone's changes did not go through; nothing was changed in that case. */
  problem?: Problem;
  /** Provider-specific facts worth showing (new serial, API calls made). */
  details?: Record<string, string | number>;
}

export interface DnsProvider {
  /** The module's kind (src/providers/registry.ts). */
  readonly kind: string;
  /** Present when the module declares the `dnssec` capability. */
  signer?: ProviderDnssec;
  /** Present when the module declares the `verify` capability (the settings page's Test button). */
  verify?(zone?: string): Promise<VerifyResult>;
  /** Optional: told up front which zones this run will read, so lookups can be batched. */
  prepare?(zones: string[]): Promise<void>;
  /**
   * The managed records published at the given owners of `zone` (absolute names): TLSA records,
   * and TXT records of a managed kind, TLSRPT policies and MTA-STS records (no other TXT record is ever returned).
   */
  populate(zone: string, owners: string[]): Promise<PublishedRecord[]>;
  /** Carry out all changes for one zone atomically where the backend allows it. */
  apply(zone: string, changes: Change[]): Promise<ApplyResult>;
  /**
   * Optional: after a run was interrupted, make the DNS server serve what the zone now holds
   * (`inEffect`: the interrupted changes found in it). Throws ProblemError when it cannot.
   */
  recover?(zone: string, inEffect: Change[]): Promise<void>;
}
