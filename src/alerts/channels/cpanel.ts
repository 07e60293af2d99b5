import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerRoot } from '../../util/server-root.js';
import { runWithInput } from '../../util/run-input.js';
import { bodyOf, oneLine, subjectOf, type AlertMessage } from '../message.js';

const here = dirname(fileURLToPath(import.meta.url));
/** plugin/lib sits at the package root, three levels above src/alerts/channels and dist/alerts/channels. */
export const ICONTACT_HELPER = join(here, '..', '..', '..', 'plugin', 'lib', 'icontact-notify.pl');

/** cPanel's Perl module for notifications; its presence is what "cPanel can notify" means. */
export function icontactAvailable(root: ServerRoot): boolean {
  return root.stat('/usr/local/cpanel/Cpanel/iContact.pm') !== null;
}

/** cPanel's own Perl when present (it has cPanel's modules' dependencies), else the system's. */
function perlFor(root: ServerRoot): string {
  const cp = root.path('/usr/local/cpanel/3rdparty/bin/perl');
  return existsSync(cp) ? cp : 'perl';
}

/**
 * `Cpanel::iContact::icontact(application, event_name, subject, message)` through the shipped
 * helper: the supported way for root code on a cPanel server to raise a notification that
 * Contact Manager routes to the server contacts. Runs with cPanel's library path.
 */
export async function notifyCpanel(root: ServerRoot, m: AlertMessage): Promise<void> {
  const input = JSON.stringify({ subject: subjectOf(m), message: bodyOf(m), event_name: m.kind });
  const r = await runWithInput([perlFor(root), '-I', root.path('/usr/local/cpanel'), ICONTACT_HELPER], input, { timeoutMs: 60_000 });
  let answer: { ok?: number; error?: string } = {};
  try {
    answer = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as typeof answer;
  } catch {
    /* answered nothing usable: reported below */
  }
  if (r.code !== 0 || answer.ok !== 1) throw new Error(`cPanel iContact: ${oneLine(answer.error ?? (r.stderr || `exit ${r.code}`)).slice(0, 300)}`);
}
