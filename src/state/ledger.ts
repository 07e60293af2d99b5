/** What the rollover ledger knows (StateDb in db.ts keeps it in the state database). */
export interface LedgerView {
  /** When this record (by recordKey) was first seen published in `zone`, ms since epoch. */
  publishedSince(zone: string, key: string): number | null;
  /** Whether TLSA Manager created this record. */
  createdByUs(zone: string, key: string): boolean;
}

/** A ledger that knows nothing: `plan` without a state database (first run, read-only preview). */
export const emptyLedger: LedgerView = { publishedSince: () => null, createdByUs: () => false };
