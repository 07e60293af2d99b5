#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/scripts/buildeximconf (NOT cPanel). Built after cPanel 11.120's
// scripts/buildeximconf: it rebuilds /etc/exim.conf from cPanel's template and
// /etc/exim.conf.local, where a line "@NAME@" (or "%NAME%") starts a section whose lines replace
// the template's "@NAME@" placeholder (Cpanel::Exim::Config::load_local_exim_config); when Exim
// finds the generated configuration invalid (`goodconf` false) it prints the error and exits 1
// leaving /etc/exim.conf alone, else it writes /etc/exim.conf (0644) and prints "Configuration
// file passes test!". This stub does the same splice into a template and:
//   - uses <root>/var/cpanel/buildeximconf/template when it exists (the lab's working Exim
//     configuration with the placeholders), else a small built-in template;
//   - when <root>/var/cpanel/buildeximconf/check.json holds an argv (e.g. ["exim4","-bV","-C"]),
//     runs it with the generated file appended and treats a non-zero exit as invalid;
//   - fails (exit 1, nothing written) when <root>/var/cpanel/buildeximconf-fail exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fail, logCall, under } from './lib.mjs';

logCall('buildeximconf', process.argv.slice(2));
if (existsSync(under('/var/cpanel/buildeximconf-fail'))) fail('Configuration file has errors: the new exim.conf was not installed');

const BUILTIN = ['# demo exim.conf (stub of cPanel\'s template)', '@CONFIG@', 'begin acl', '@BEGINACL@', 'begin routers', '@PREROUTERS@', '@ROUTERSTART@', '@ROUTEREND@', '@DIRECTORSTART@', '@DIRECTOREND@', 'begin transports', '@TRANSPORTSTART@', '@TRANSPORTEND@', ''].join('\n');
const templateFile = under('/var/cpanel/buildeximconf/template');
const TEMPLATE = existsSync(templateFile) ? readFileSync(templateFile, 'utf8') : BUILTIN;

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
const checkFile = under('/var/cpanel/buildeximconf/check.json');
if (existsSync(checkFile)) {
  const [cmd, ...args] = JSON.parse(readFileSync(checkFile, 'utf8'));
  const r = spawnSync(cmd, [...args, tmp], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    process.stdout.write(`Configuration file has an invalid syntax. Please try the edit again.\n\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}
renameSync(tmp, under('/etc/exim.conf'));
process.stdout.write('Configuration file passes test!  New configuration file was installed.\n');
