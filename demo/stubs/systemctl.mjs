#!/usr/bin/env node
// Demo stub of systemctl (NOT systemd): records calls and keeps a little unit state in
// /var/lib/demo-systemctl/state.json so is-active/is-enabled answer consistently.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { logCall, under } from './lib.mjs';

const argv = process.argv.slice(2);
logCall('systemctl', argv);
const STATE = under('/var/lib/demo-systemctl/state.json');
const state = existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : { units: {} };
const args = argv.filter((a) => !a.startsWith('-'));
const now = argv.includes('--now');
const [verb, ...units] = args;
const unit = (u) => (state.units[u] ??= { enabled: false, active: false });
let code = 0;
switch (verb) {
  case 'enable': for (const u of units) { unit(u).enabled = true; if (now) unit(u).active = true; } break;
  case 'disable': for (const u of units) { unit(u).enabled = false; if (now) unit(u).active = false; } break;
  case 'start': case 'restart': case 'reload-or-restart': case 'try-restart': for (const u of units) unit(u).active = true; break;
  case 'stop': for (const u of units) unit(u).active = false; break;
  case 'is-active': for (const u of units) { const a = state.units[u]?.active; process.stdout.write(a ? 'active\n' : 'inactive\n'); if (!a) code = 3; } break;
  case 'is-enabled': for (const u of units) { const e = state.units[u]?.enabled; process.stdout.write(e ? 'enabled\n' : 'disabled\n'); if (!e) code = 1; } break;
  case 'status': for (const u of units) { const a = state.units[u]?.active; process.stdout.write(`● ${u}\n   Active: ${a ? 'active (running)' : 'inactive (dead)'}\n`); if (!a) code = 3; } break;
  default: break; // daemon-reload, reload, mask…: accepted and recorded
}
mkdirSync(dirname(STATE), { recursive: true });
writeFileSync(STATE, JSON.stringify(state, null, 2) + '\n');
process.exit(code);
