// AppConfig handling shared by the register/unregister/is_registered stubs (demo, NOT cPanel).
import { existsSync, readFileSync } from 'node:fs';
import { SAFE_NAME, under } from './lib.mjs';

export const SERVICES = new Set(['whostmgr', 'cpanel', 'webmail']);
const KNOWN_KEYS = new Set(['name', 'service', 'url', 'acls', 'user', 'displayname', 'entryurl', 'icon', 'target', 'features', 'group', 'phpcgi', 'url_prefix', 'category', 'order']);

export function appPath(name) {
  return under(`/var/cpanel/apps/${name}.conf`);
}

/** Parse and validate an AppConfig file; returns { name, service, config } or { errors }. */
export function readAppConfig(file) {
  if (!existsSync(file)) return { errors: [`The file “${file}” does not exist.`] };
  const config = {};
  const errors = [];
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) { errors.push(`line ${i + 1}: expected key=value`); return; }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!KNOWN_KEYS.has(key) && !/^url\d+$/.test(key)) process.stderr.write(`warning: unknown key “${key}” ignored\n`);
    config[key] = value;
  });
  const { name, service, url } = config;
  if (!name) errors.push('“name” is required');
  else if (!SAFE_NAME.test(name)) errors.push(`“name” (${name}) may contain only letters, digits, “_” and “-”`);
  else if (/^internal/i.test(name)) errors.push('“name” must not start with “internal”');
  if (!service) errors.push('“service” is required');
  else if (!SERVICES.has(service)) errors.push(`“service” must be one of ${[...SERVICES].join(', ')}`);
  const urls = Object.keys(config).filter((k) => k === 'url' || /^url\d+$/.test(k));
  if (!url) errors.push('“url” is required');
  for (const k of urls) if (!config[k].startsWith('/')) errors.push(`“${k}” must start with “/”`);
  if (config.entryurl !== undefined && (config.entryurl.startsWith('/') || config.entryurl.includes('..'))) {
    errors.push('“entryurl” must be relative to /cgi/ (no leading “/”, no “..”)');
  }
  if (config.target !== undefined && !['_self', '_blank', '_top', '_parent'].includes(config.target)) errors.push('“target” must be _self, _blank, _top or _parent');
  if (config.icon !== undefined && (config.icon.includes('/') || config.icon.includes('..'))) errors.push('“icon” must be a file name');
  if (service === 'whostmgr' && config.acls === undefined) errors.push('“acls” is required for whostmgr apps');
  return errors.length ? { errors } : { name, service, config };
}
