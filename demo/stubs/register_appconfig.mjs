#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/register_appconfig (NOT cPanel): validates the AppConfig
// file like the real one and writes /var/cpanel/apps/<name>.conf with mode 0600.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fail, logCall } from './lib.mjs';
import { appPath, readAppConfig } from './appconfig.mjs';

const argv = process.argv.slice(2);
logCall('register_appconfig', argv);
if (argv.length !== 1) fail('Usage: register_appconfig <appconfig file>');
const file = resolve(argv[0]);
const r = readAppConfig(file);
if (r.errors) fail(`The AppConfig file “${argv[0]}” is not valid:\n  ${r.errors.join('\n  ')}`);
const target = appPath(r.name);
mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
writeFileSync(target, readFileSync(file), { mode: 0o600 });
chmodSync(target, 0o600);
process.stdout.write(`${r.name} registered\n`);
