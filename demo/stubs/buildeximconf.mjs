#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/scripts/buildeximconf (NOT cPanel). The real one rebuilds
// /etc/exim.conf from cPanel's template and /etc/exim.conf.local, where a line "@NAME@" (or
// "%NAME%") starts a section whose lines replace the template's "@NAME@" placeholder
// (Cpanel::Exim::Config::load_local_exim_config); it keeps the old exim.conf when Exim refuses
// the result. This stub does the same splice into a small template and fails (exit 1, nothing
// written) when <root>/var/cpanel/buildeximconf-fail exists.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fail, logCall, under } from './lib.mjs';

logCall('buildeximconf', process.argv.slice(2));
if (existsSync(under('/var/cpanel/buildeximconf-fail'))) fail('Configuration file has errors: the new exim.conf was not installed');

const TEMPLATE = ['# demo exim.conf (stub of cPanel\'s template)', '@CONFIG@', 'begin acl', '@BEGINACL@', 'begin routers', '@PREROUTERS@', '@ROUTERSTART@', '@ROUTEREND@', '@DIRECTORSTART@', '@DIRECTOREND@', 'begin transports', '@TRANSPORTSTART@', '@TRANSPORTEND@', ''].join('\n');

const local = existsSync(under('/etc/exim.conf.local')) ? readFileSync(under('/etc/exim.conf.local'), 'utf8') : '';
const sections = {};
let current = null;
for (const line of local.split('\n')) {
  const m = /^@([^@]+)@/.exec(line) ?? /^%([^%]+)%/.exec(line);
  if (m) current = m[1];
  else if (current) sections[current] = (sections[current] ?? '') + line + '\n';
}
const out = TEMPLATE.replace(/^@([^@]+)@$/gm, (_, name) => (sections[name] ?? '').replace(/^\n+|\n+$/g, ''));
const tmp = under('/etc/exim.conf.build');
writeFileSync(tmp, out, { mode: 0o644 });
renameSync(tmp, under('/etc/exim.conf'));
process.stdout.write('Configuration file passes test!  New configuration file was installed.\n');
