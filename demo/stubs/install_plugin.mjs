#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/scripts/install_plugin and uninstall_plugin (NOT cPanel), after
// cPanel 11.120's scripts/install_plugin (`run`: a directory is used as it is and must hold
// install.json; --theme, default DEFMOD) and Cpanel/Plugin/Install.pm `install_plugin`: each
// entry of type "link" is checked against Cpanel/Themes/Assets/Link.pm's attributes (order,
// id, name, icon, group_id required; their validators), its icon must exist and be SVG or PNG
// (`_check_icon_type`), `feature` defaults to the id and `description` to the name, and unless
// `featuremanager` is "0"/"false" the feature goes to Feature Manager as the file
// /usr/local/cpanel/whostmgr/addonfeatures/<feature> holding "<feature>:<description>"
// (`_add_plugins_to_feature_manager`: never overwritten; removed on uninstall). The theme's
// sitemap (Cpanel::Themes::SiteMap add_link) is stood in for by
// base/frontend/<theme>/dynamicui/dynamicui_<id>.conf holding the link as JSON.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fail, logCall, under } from './lib.mjs';

const uninstall = basename(process.argv[1] ?? '').startsWith('uninstall');
const argv = process.argv.slice(2);
logCall(uninstall ? 'uninstall_plugin' : 'install_plugin', argv);
let theme = 'jupiter';
const rest = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--theme') theme = argv[++i] ?? '';
  else if (argv[i]?.startsWith('--theme=')) theme = argv[i].slice(8);
  else rest.push(argv[i]);
}
if (!/^[a-z0-9_-]+$/i.test(theme)) fail(`error: invalid theme ${theme}`);
const dir = rest[0] ? resolve(rest[0]) : fail('error: No archive given!\n');
if (!existsSync(dir)) fail(`error: No file found at ${rest[0]}`);
if (!existsSync(join(dir, 'install.json'))) {
  process.stdout.write('install.json is missing from the plugin archive, cannot process\n');
  process.exit(1);
}
if (!existsSync(under(`/usr/local/cpanel/base/frontend/${theme}`))) fail(`The specified theme [${theme}] does not exist.`);
let entries = JSON.parse(readFileSync(join(dir, 'install.json'), 'utf8'));
if (!Array.isArray(entries)) entries = [entries];
const RULES = { order: [/^-?[0-9]+$/, true], id: [/^[0-9a-z_-]+$/i, true], name: [/^[\s\S]+$/, true], icon: [/^[\s\S]+$/, true], group_id: [/^[0-9a-z_-]+$/i, true], uri: [/^.+$/, false], target: [/^[0-9a-z-_]*$/i, false], implements: [/^[0-9a-z_-]+$/i, false] };
const features = {};
for (const e of entries.filter((x) => x && x.type === 'link')) {
  for (const [k, [re, required]] of Object.entries(RULES)) {
    if (e[k] === undefined) { if (required) fail(`Error in installing plugin: missing required attribute ${k}`); continue; }
    if (!re.test(String(e[k]))) fail(`Error in installing plugin: invalid value for ${k}`);
  }
  if (!uninstall) {
    const icon = join(dir, e.icon);
    if (!existsSync(icon)) fail(`Icon file “${icon}” does not exist.`);
    const head = readFileSync(icon).subarray(0, 8);
    if (!/\.svg$/i.test(icon) && !head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) fail(`Link plugins require icon images to be in SVG or PNG format. ${icon} does not meet this requirement.`);
  }
  if (uninstall || e.featuremanager === undefined || (String(e.featuremanager) !== '0' && String(e.featuremanager) !== 'false')) {
    const feature = e.feature || e.id;
    if (!uninstall && !/^[a-z0-9_-]+$/i.test(feature)) fail(`Feature name for ${e.name} is invalid: ${feature}`);
    features[feature] = e.description || e.name;
  }
  const sitemap = under(`/usr/local/cpanel/base/frontend/${theme}/dynamicui/dynamicui_${e.id}.conf`);
  if (uninstall) rmSync(sitemap, { force: true });
  else {
    mkdirSync(under(`/usr/local/cpanel/base/frontend/${theme}/dynamicui`), { recursive: true });
    writeFileSync(sitemap, JSON.stringify(e, null, 2));
  }
}
const addon = under('/usr/local/cpanel/whostmgr/addonfeatures');
mkdirSync(addon, { recursive: true });
for (const [feature, description] of Object.entries(features)) {
  const f = join(addon, feature);
  if (uninstall) rmSync(f, { force: true });
  else if (!existsSync(f)) writeFileSync(f, `${feature}:${description}\n`);
}
process.stdout.write(uninstall ? 'Plugin uninstalled ok\n' : 'Plugin installed ok\n');
