import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface HookRegistration {
  category: 'Whostmgr' | 'Cpanel';
  event: string;
  stage: 'pre' | 'post';
  hook: string;
  exectype: 'script';
  /** Never 1: this plugin must never stop a certificate install. */
  blocking: 0;
  escalateprivs?: 1;
  weight: number;
}

const EVENTS: Omit<HookRegistration, 'hook' | 'exectype' | 'blocking' | 'weight'>[] = [
  // The pre stage sees the incoming certificate: its records go out before it is installed.
  { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' },
  { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'post' },
  { category: 'Whostmgr', event: 'SSL::installssl', stage: 'pre' },
  { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' },
  { category: 'Whostmgr', event: 'SSL::delssl', stage: 'post' },
  { category: 'Whostmgr', event: 'SSL::install_service_ssl_certificate', stage: 'post' },
  { category: 'Cpanel', event: 'UAPI::SSL::install_ssl', stage: 'post', escalateprivs: 1 },
  { category: 'Cpanel', event: 'UAPI::SSL::delete_ssl', stage: 'post', escalateprivs: 1 },
];

/** The installed hook wrapper: `<app>/bin/tlsa-manager-hook`, next to `<app>/dist/cli.js`. */
export function hookScriptPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/tlsa-manager-hook');
}

/** What `tlsa-manager hook --describe` prints for `manage_hooks`. */
export function hookRegistrations(hook = hookScriptPath()): HookRegistration[] {
  return EVENTS.map((e) => ({ ...e, hook, exectype: 'script', blocking: 0, weight: 100 }));
}
