/**
 * What a DNS provider module declares about itself (octoDNS's SUPPORTS, DNSControl's CanUse…):
 * its settings, which of them are secrets, what it can do, and how to make one. The registry
 * (registry.ts) lists the modules; the config schema, redaction, the settings page and the
 * DNSSEC code read that list instead of knowing kinds by name. Nothing here imports context.ts:
 * a provider gets its own settings and the narrow ProviderHost, never the whole AppContext.
 */
import type { z } from 'zod';
import type { DsRecord, DnskeyRecord } from '../dnssec/keys.js';
import type { Signing } from '../dnssec/state.js';
import type { DnsProvider } from './contract.js';
import type { Problem } from '../problem.js';
import type { JournalStep } from '../state/db.js';
import type { ServerRoot } from '../util/server-root.js';

export interface ProviderCapabilities {
  /** Publishes TLSA records. */
  tlsa: boolean;
  /** Publishes TXT records (TLSRPT policies). */
  txt: boolean;
  /** Can switch signing on and off and report the signer's state (provider.dnssec). */
  dnssec: boolean;
  /** Can tell the DS the signer wants at the parent (provider.dnssec.status fills ds). */
  dsLookup: boolean;
  /** Has a Test button (provider.verify). */
  verify: boolean;
  /** Largest number of changes sent as one unit; Infinity when a zone's changes always go as one. */
  batchSize: number;
  /** Can mark records as ours (populate sets markedOurs); zone files cannot. */
  marksOwnership: boolean;
}

/** The parts of a pino logger a provider uses (pino's Logger satisfies it). */
export interface ProviderLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What a provider may use of the host: nothing else of the running process reaches it. */
export interface ProviderHost {
  root: ServerRoot;
  /** Record how far a zone's write got (the crash journal, state/db.ts). */
  journalStep(zone: string, step: JournalStep): void;
  logger: ProviderLogger;
  now(): number;
}

/** The signer's view of one zone. */
export interface SignerView {
  signing: Signing | null;
  ds: DsRecord[];
  dnskey: DnskeyRecord[];
  /** cPanel: `bind`, `powerdns`, `disabled` (local_nameserver_type). */
  nameserver?: string;
  problem?: Problem;
}

/** Signing where the zone lives; declared by the `dnssec` capability. */
export interface ProviderDnssec {
  status(zones: string[]): Promise<Map<string, SignerView>>;
  /** null when signing is on (or being switched on). */
  enable(zone: string, algorithm: number): Promise<Problem | null>;
  /** null when signing is off. */
  disable(zone: string): Promise<Problem | null>;
}

/** The Test button's answer. */
export interface VerifyResult {
  ok: boolean;
  summary: string;
  problems: Problem[];
}

/** A settings field as the settings page shows it (generated from the module, see fields()). */
export interface ProviderField {
  /** Dot path inside the instance's settings (`tsig.secret`). */
  path: string;
  label: string;
  /** Secrets are write-only: the page shows whether one is saved, never its value. */
  secret: boolean;
  placeholder?: string;
}

export interface ProviderModule<K extends string = string, S = unknown> {
  readonly kind: K;
  readonly label: string;
  /** The instance's settings (without `kind`). */
  readonly settings: z.ZodType<S>;
  /** Dot paths inside the settings whose values are secrets (masked on pages and in logs). */
  readonly secrets: readonly string[];
  /** The settings page's fields, in order. */
  readonly fields: readonly ProviderField[];
  readonly capabilities: ProviderCapabilities;
  /** May the config name further instances of this kind (`providers.<name>`)? */
  readonly namedInstances: boolean;
  /** The server the domain page names for an instance (`Cloudflare API`, `192.0.2.53:53`). */
  describe(settings: S): string;
  create(settings: S, host: ProviderHost): Promise<DnsProvider | Problem>;
}
