import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Zone fixtures shared by the zonefile tests. */
export const ZONE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/zones');

/** Fixtures named-checkzone accepts: [file, zone]. */
export const VALID: [file: string, zone: string][] = [
  ['cpanel-example.com.db', 'example.com'],
  ['bind-example.org.db', 'example.org'],
  ['crlf-example.net.db', 'example.net'],
  ['include-example.info.db', 'example.info'],
  ['unknown-types-example.com.db', 'example.com'],
];
