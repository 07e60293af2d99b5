#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/scripts/restartsrv_exim (NOT cPanel): records the call.
import { logCall } from './lib.mjs';

logCall('restartsrv_exim', process.argv.slice(2));
process.stdout.write('exim restarted successfully.\n');
