import { stringify } from 'yaml';
import { put } from './fs-util.js';
import { DEMO_EXTRA_IP, DEMO_HOSTNAME, DEMO_MAIN_IP, type AccountSpec, type DomainSpec, type Scenario } from './scenario.js';

/**
 * The account/domain/mail-routing files cPanel keeps in /etc and /var/cpanel, in their real
 * layouts (see reference/cpanel.md "Accounts, domains, mail routing").
 */

/** cPanel gives each addon domain an internal sub domain of the main domain. */
export function addonSubdomain(d: DomainSpec): string {
  return `${d.name.split('.')[0]!.replace(/-/g, '')}.${d.parent!}`;
}

function domainsOf(s: Scenario, user: string): DomainSpec[] {
  return s.domains.filter((d) => d.user === user);
}

export async function writeServerFiles(root: string): Promise<void> {
  await put(root, '/etc/hostname', `${DEMO_HOSTNAME}\n`);
  // cPanel writes mainip without a trailing newline; readers must not depend on one.
  await put(root, '/var/cpanel/mainip', DEMO_MAIN_IP);
  await put(root, '/etc/ips', `${DEMO_EXTRA_IP}:255.255.255.0:192.0.2.255\n`);
  await put(
    root,
    '/var/cpanel/cpanel.config',
    ['allowremotedomains=0', 'dnsadmin_log=1', 'local_nameserver_type=bind', 'mailserver=dovecot', 'mycpanel_domain_tls=1', ''].join('\n'),
  );
}

export async function writeDomainLists(root: string, s: Scenario): Promise<void> {
  const userdomains: string[] = [];
  const local: string[] = [DEMO_HOSTNAME];
  const remote: string[] = [];
  for (const d of s.domains) {
    userdomains.push(`${d.name}: ${d.user}`);
    if (d.kind === 'addon') userdomains.push(`${addonSubdomain(d)}: ${d.user}`);
    (d.mx === 'remote' ? remote : local).push(d.name);
  }
  userdomains.push('*: nobody');
  await put(root, '/etc/userdomains', userdomains.join('\n') + '\n');
  await put(root, '/etc/trueuserdomains', s.accounts.map((a) => `${a.mainDomain}: ${a.user}`).join('\n') + '\n');
  await put(root, '/etc/localdomains', local.join('\n') + '\n');
  await put(root, '/etc/remotedomains', remote.length ? remote.join('\n') + '\n' : '');
}

function usersFile(a: AccountSpec, domains: DomainSpec[], startDate: number): string {
  const lines = [
    '# cPanel -- If you edit this file directly you must run /usr/local/cpanel/scripts/updateuserdomains afterwards',
    'BWLIMIT=unlimited',
    `CONTACTEMAIL=admin@${a.mainDomain}`,
    'CONTACTEMAIL2=',
    `DNS=${a.mainDomain}`,
  ];
  // DNSn lists addon and parked domains; sub domains are not listed.
  domains
    .filter((d) => d.kind === 'addon' || d.kind === 'parked')
    .forEach((d, i) => lines.push(`DNS${i + 1}=${d.name}`));
  lines.push('FEATURELIST=default', 'HASCGI=1', 'HASDKIM=1', 'HASSPF=1', `IP=${a.ip}`, 'LANG=en', 'MAXADDON=unlimited', 'MAXPARK=unlimited');
  for (const d of domains) if (d.kind !== 'sub') lines.push(`MXCHECK-${d.name}=${d.mx === 'remote' ? 'remote' : '0'}`);
  lines.push('OWNER=root', 'PLAN=default', 'RS=jupiter', `STARTDATE=${startDate}`, 'SUSPENDED=0', `USER=${a.user}`, '');
  return lines.join('\n');
}

function userdataMain(a: AccountSpec, domains: DomainSpec[]): string {
  const addons: Record<string, string> = {};
  const parked: string[] = [];
  const subs: string[] = [];
  for (const d of domains) {
    if (d.kind === 'addon') {
      addons[d.name] = addonSubdomain(d);
      subs.push(addonSubdomain(d));
    } else if (d.kind === 'parked') parked.push(d.name);
    else if (d.kind === 'sub') subs.push(d.name);
  }
  // cPanel's userdata files are YAML documents starting with `---`.
  return '---\n' + stringify({ addon_domains: addons, cp_php_magic_include_path: 0, main_domain: a.mainDomain, parked_domains: parked, sub_domains: subs.sort() });
}

/** Per-vhost userdata: servername + serveralias is what fetch_ssl_vhosts reports as the vhost's domains. */
function userdataVhost(d: DomainSpec, aliases: string[]): string {
  return '---\n' + stringify({
    documentroot: `/home/${d.user}/public_html${d.kind === 'main' ? '' : `/${d.name}`}`,
    group: d.user,
    homedir: `/home/${d.user}`,
    ip: d.ip,
    owner: 'root',
    serveradmin: `webmaster@${d.name}`,
    serveralias: aliases.join(' '),
    servername: d.name,
    usecanonicalname: 'Off',
    user: d.user,
  });
}

/** Names served by a vhost besides its servername (www., mail., parked domains...). */
export function vhostAliases(d: DomainSpec, s: Scenario): string[] {
  const aliases = [`www.${d.name}`, `mail.${d.name}`];
  if (d.kind === 'addon') aliases.push(addonSubdomain(d), `www.${addonSubdomain(d)}`);
  if (d.kind === 'main') {
    for (const p of s.domains) {
      if (p.kind === 'parked' && p.parent === d.name) aliases.push(p.name, `www.${p.name}`, `mail.${p.name}`);
    }
  }
  return aliases;
}

export async function writeAccounts(root: string, s: Scenario, now: Date): Promise<void> {
  const startDate = Math.floor(now.getTime() / 1000) - 86_400 * 400;
  for (const a of s.accounts) {
    const domains = domainsOf(s, a.user);
    await put(root, `/var/cpanel/users/${a.user}`, usersFile(a, domains, startDate), 0o600);
    await put(root, `/var/cpanel/userdata/${a.user}/main`, userdataMain(a, domains), 0o600);
    for (const d of domains) {
      if (d.kind !== 'parked') await put(root, `/var/cpanel/userdata/${a.user}/${d.name}`, userdataVhost(d, vhostAliases(d, s)), 0o600);
    }
  }
}
