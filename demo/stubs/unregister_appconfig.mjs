#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/unregister_appconfig (NOT cPanel): accepts the AppConfig
// file or the app name and removes /var/cpanel/apps/<name>.conf.
import { existsSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fail, logCall, SAFE_NAME } from './lib.mjs';
import { appPath, readAppConfig } from './appconfig.mjs';

const argv = process.argv.slice(2);
logCall('unregister_appconfig', argv);
if (argv.length !== 1) fail('Usage: unregister_appconfig <appconfig file | name>');
let name = argv[0];
if (existsSync(resolve(name)) && statSync(resolve(name)).isFile()) {
  const r = readAppConfig(resolve(name));
  if (r.errors) fail(`The AppConfig file “${argv[0]}” is not valid:\n  ${r.errors.join('\n  ')}`);
  name = r.name;
} else {
  name = name.replace(/\.conf$/, '');
}
if (!SAFE_NAME.test(name)) fail(`Invalid app name “${name}”.`);
if (!existsSync(appPath(name))) fail(`${name} is not registered`);
rmSync(appPath(name));
process.stdout.write(`${name} unregistered\n`);
