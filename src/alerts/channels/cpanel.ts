import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerRoot } from '../../util/server-root.js';
import { WhmApi } from '../../cpanel/whmapi.js';
import type { CpanelImportance } from '../../state/config.js';
import { runWithInput } from '../../util/run-input.js';
import { bodyOf, oneLine, subjectOf, type AlertMessage } from '../message.js';

const here = dirname(fileURLToPath(import.meta.url));
/** plugin/lib sits at the package root, three levels above src/alerts/channels and dist/alerts/channels. */
export const ICONTACT_HELPER = join(here, '..', '..', '..', 'plugin', 'lib', 'icontact-notify.pl');

/** Our application name in WHM » Contact Manager (alphanumeric, as WHM API 1's Contact functions require). */
export const ICONTACT_APP = 'TLSAManager';

/**
 * The cPanel event name of an alert kind: `domain-degraded` → `DomainDegraded`. WHM API 1 accepts
 * only alphanumeric event names for per-event importance (Whostmgr/API/1/Contact.pm
 * `_validate_alphanumeric`), so a kind with a hyphen could never be tuned in Contact Manager.
 */
export function cpanelEventName(kind: string): string {
  return kind
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('') || 'Alert';
}

/** `high` → `High`: the names Cpanel/iContact/EventImportance.pm's %NAME_TO_NUMBER knows. */
export function importanceName(i: CpanelImportance): 'High' | 'Medium' | 'Low' {
  return i === 'high' ? 'High' : i === 'medium' ? 'Medium' : 'Low';
}

/**
 * Give our application this importance in Contact Manager (`whmapi1
 * set_application_contact_importance app=TLSAManager importance=High`, the application's `*`
 * entry; per-event entries an admin set stay as they are). Same call as install.sh.
 */
export async function setCpanelImportance(root: ServerRoot, importance: CpanelImportance): Promise<void> {
  await new WhmApi(root).call('set_application_contact_importance', [
    ['app', ICONTACT_APP],
    ['importance', importanceName(importance)],
  ]);
}

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
  const input = JSON.stringify({ subject: subjectOf(m), message: bodyOf(m), event_name: cpanelEventName(m.kind) });
  const r = await runWithInput([perlFor(root), '-I', root.path('/usr/local/cpanel'), ICONTACT_HELPER], input, { timeoutMs: 60_000 });
  let answer: { ok?: number; error?: string } = {};
  try {
    answer = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as typeof answer;
  } catch {
    /* answered nothing usable: reported below */
  }
  if (r.code !== 0 || answer.ok !== 1) throw new Error(`cPanel iContact: ${oneLine(answer.error ?? (r.stderr || `exit ${r.code}`)).slice(0, 300)}`);
}
