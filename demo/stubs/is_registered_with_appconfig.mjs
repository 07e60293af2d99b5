#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/is_registered_with_appconfig (NOT cPanel):
// `is_registered_with_appconfig <service> <name>` exits 0 when registered for that service, 1 if not.
import { existsSync } from 'node:fs';
import { fail, logCall, SAFE_NAME } from './lib.mjs';
import { appPath, readAppConfig, SERVICES } from './appconfig.mjs';

const argv = process.argv.slice(2);
logCall('is_registered_with_appconfig', argv);
const [service, name] = argv;
if (argv.length !== 2 || !SERVICES.has(service) || !SAFE_NAME.test(name)) {
  fail('Usage: is_registered_with_appconfig <whostmgr|cpanel|webmail> <name>', 2);
}
const file = appPath(name);
const r = existsSync(file) ? readAppConfig(file) : null;
process.exit(r && !r.errors && r.service === service ? 0 : 1);
