// The MTA-STS lab's cPanel side and web server, shared by the MTA-STS lab tests: a lab zone as
// the account user1's domain with an MX host whose lab-CA certificate Exim serves, a real Apache
// (test/lab/apache.ts) serving mta-sts.<zone> from the document root cPanel's create_subdomain
// would make, stand-ins for whmapi1 (create_subdomain/delete_domain) and for systemctl (the
// oneshot unit runs the built CLI), and the posttls-finger configuration.
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab } from './lab.js';
import { startApache, type LabApache } from './apache.js';
import { ensurePostfix, writePostfixConfig } from './posttls.js';
import { testContext } from '../helpers/context.js';
import { subdomainDocroot } from '../../src/mtasts/subdomain.js';
import type { AppContext } from '../../src/context.js';

/** The account owner (nobody): the policy is written as this user. */
export const UID = 65534;
export const GID = 65534;

export interface MtaStsEnv {
  l: Lab;
  zone: string;
  mx: string;
  web: string;
  home: string;
  docroot: string;
  caFile: string;
  apache: LabApache;
  postfixDir: string;
  pfConf: string;
}

/**
 * The cPanel side: the lab zone under var/named, the account user1 in /etc/passwd and
 * /etc/userdomains, and a whmapi1 stand-in for create_subdomain that does what cPanel's does for
 * our purpose (Whostmgr/API/1/UserDomains.pm create_subdomain lines 260-306 → Cpanel/Sub.pm
 * _create_local_subdomain: the userdata file with the document root, lines 361-403, and the
 * document root made as the user, line 471). The address record cPanel adds for the name (lines
 * 338-348) is the lab's: setRecords below. delete_domain follows the same file's delete_domain
 * (lines 161-225): a subdomain's owner is found, it is removed (_delsubdomain), and the answer is
 * { username, type: 'sub' }.
 */
function cpanelSide(l: Lab, zone: string, home: string): void {
  const root = l.cpanelRoot;
  try {
    symlinkSync(dirname(l.zoneFile(zone)), join(root, 'var/named'));
  } catch {
    /* linked already */
  }
  writeFileSync(join(root, 'etc/userdomains'), `${zone}: user1\n`);
  writeFileSync(join(root, 'etc/localdomains'), `${zone}\n`);
  writeFileSync(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/bash\nuser1:x:${UID}:${GID}::${home}:/bin/bash\n`);
  const exe = join(root, 'usr/local/cpanel/bin/whmapi1');
  mkdirSync(dirname(exe), { recursive: true });
  writeFileSync(
    exe,
    `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const argv = process.argv.slice(2);
const fn = argv.find((a) => !a.startsWith('--') && !a.includes('='));
const args = Object.fromEntries(argv.filter((a) => a.includes('=') && !a.startsWith('--')).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const ud = path.join(${JSON.stringify(root)}, 'var/cpanel/userdata/user1');
fs.appendFileSync(path.join(${JSON.stringify(root)}, 'whmapi1.log'), argv.join(' ') + '\\n');
const out = (ok, data, reason) => process.stdout.write(JSON.stringify({ data, metadata: { command: fn, result: ok ? 1 : 0, reason: reason || 'OK', version: 1 } }) + '\\n');
if (fn === 'create_subdomain') {
  const file = path.join(ud, args.domain);
  if (fs.existsSync(file)) { out(false, null, 'already controls'); process.exit(0); }
  const docroot = path.join(${JSON.stringify(home)}, args.document_root);
  fs.mkdirSync(docroot, { recursive: true, mode: 0o755 });
  for (let d = docroot; d.startsWith(${JSON.stringify(home)} + '/'); d = path.dirname(d)) fs.chownSync(d, ${UID}, ${GID});
  fs.mkdirSync(ud, { recursive: true });
  fs.writeFileSync(file, '---\\nuser: user1\\nhomedir: ${home}\\nservername: ' + args.domain + '\\nsub_domain: ' + args.domain + '\\ndocumentroot: ' + docroot + '\\n');
  out(true, { username: 'user1' });
} else if (fn === 'delete_domain') {
  fs.rmSync(path.join(ud, args.domain), { force: true });
  out(true, { username: 'user1', type: 'sub' });
} else out(false, null, 'not in the stand-in');
`,
  );
  chmodSync(exe, 0o755);
  // systemd's stand-in for the oneshot unit tlsa-manager-mta-sts-subdomain@.service: runs what its
  // ExecStart runs (plugin/systemd), the built CLI with this root and config.
  const systemctl = join(root, 'usr/bin/systemctl');
  mkdirSync(dirname(systemctl), { recursive: true });
  writeFileSync(
    systemctl,
    `#!/usr/bin/env node
const { execFileSync } = require('child_process');
const [verb, unit] = process.argv.slice(2);
const m = /^tlsa-manager-mta-sts-subdomain@(.+)\\.service$/.exec(unit || '');
if (verb !== 'start' || !m) { process.stderr.write('systemctl stand-in: ' + verb + ' ' + unit + '\\n'); process.exit(5); }
require('fs').appendFileSync(${JSON.stringify(join(root, 'systemctl.log'))}, verb + ' ' + unit + '\\n');
execFileSync(process.execPath, [${JSON.stringify(join(process.cwd(), 'dist/cli.js'))}, '--root', ${JSON.stringify(root)}, '--config', ${JSON.stringify(join(root, 'etc/tlsa-manager/config.json'))}, 'mta-sts', 'subdomain', m[1]], { stdio: 'inherit' });
`,
  );
  chmodSync(systemctl, 0o755);
}

/** The lab zone `<label>.<parent>` made ready for MTA-STS (stop `apache` when done). */
export async function mtaStsEnv(l: Lab, label: string): Promise<MtaStsEnv> {
  const zone = `${label}.${l.parent}`;
  const mx = `mail.${zone}`;
  const web = l.exim.replace(/\.3$/, '.4');
  const home = join(l.dir, 'home', 'user1');
  mkdirSync(join(home, 'public_html'), { recursive: true, mode: 0o755 });
  chownSync(home, UID, GID);
  chownSync(join(home, 'public_html'), UID, GID);
  cpanelSide(l, zone, home);
  const mxCert = await l.issueCert({ names: [mx], issuer: 'R1' });
  l.installCert(mx, mxCert.combinedPem);
  const webCert = await l.issueCert({ names: [`mta-sts.${zone}`], issuer: 'R1' });
  const certDir = join(l.dir, 'web-cert');
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'cert.pem'), webCert.certPem);
  writeFileSync(join(certDir, 'key.pem'), webCert.keyPem, { mode: 0o600 });
  writeFileSync(join(certDir, 'chain.pem'), webCert.chainPem);
  const caFile = join(l.dir, 'lab-ca.pem');
  writeFileSync(caFile, l.ca.root.certPem);
  const docroot = join(home, subdomainDocroot(zone));
  const apache = await startApache(l.dir, web, { serverName: `mta-sts.${zone}`, docroot, certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem'), chainFile: join(certDir, 'chain.pem') });
  const pfConf = join(l.dir, 'pf-secure');
  writePostfixConfig(pfConf);
  return { l, zone, mx, web, home, docroot, caFile, apache, postfixDir: await ensurePostfix(), pfConf };
}

/** A context over the lab's cPanel root with the given mtaSts settings (the config file is rewritten). */
export function mtaStsContext(e: MtaStsEnv, mtaSts: Record<string, unknown>): AppContext {
  const reload = e.l.rndcArgv(e.zone).map((a) => (a === e.zone ? '{zone}' : a));
  return testContext({ policy: { ttl: 60 }, resolver: e.l.resolver, cpanel: { reloadCommand: reload, authoritative: e.l.authoritative, useWhmApi: false }, mtaSts: { caFile: e.caFile, ...mtaSts } }, e.l.cpanelRoot);
}
