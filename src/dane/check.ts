import type { AppContext } from '../context.js';
import type { DomainCheck } from './verdict.js';

export interface CheckOptions {
  /** Validating resolver "IP[:PORT]"; default config.resolver, then /etc/resolv.conf. */
  resolver?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** DANE validation as a sender sees it, per domain. (Implementation lands with issue 4.) */
export async function checkDomains(_ctx: AppContext, domains: string[], _opts: CheckOptions = {}): Promise<DomainCheck[]> {
  const time = new Date().toISOString();
  return domains.map((domain) => ({
    domain,
    time,
    verdict: 'dns-error',
    message: 'DANE checks are not available in this build yet.',
    fix: '',
    mxSecure: false,
    dnssec: { signed: null, ds: null },
    mx: [],
  }));
}
