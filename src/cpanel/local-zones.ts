import type { Stats } from 'node:fs';
import { checkName } from '../dns/names.js';
import { parseZone, ZoneSyntaxError, type ParsedZone } from '../dns/zonefile.js';
import { problem, type Problem } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';

const NAMED_DIR = '/var/named';

/** Server path of a zone's file (`/var/named/<zone>.db`); `zone` must be a validated name. */
export function zoneFilePath(zone: string): string {
  return `${NAMED_DIR}/${zone}.db`;
}

/** The closest enclosing zone of `name` in `zones`, walking up its labels (no scan of all zones). */
export function enclosingZone(name: string, zones: Set<string>): string | null {
  let n = name;
  for (;;) {
    if (zones.has(n)) return n;
    const dot = n.indexOf('.');
    if (dot < 0) return null;
    n = n.slice(dot + 1);
  }
}

interface CachedZone {
  stamp: string;
  result: ParsedZone | Problem;
}

/**
 * Parsed zone files, shared by everything in one process that reads a zone (scan, providers,
 * the web app's snapshot). Keyed by path and validated by stat, so a file replaced by anyone
 * (our own atomic rename included) is read again.
 */
const zoneCache = new WeakMap<ServerRoot, Map<string, CachedZone>>();

function stampOf(st: Stats | null): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
}

export function readParsedZone(root: ServerRoot, zone: string): ParsedZone | Problem {
  const path = zoneFilePath(zone);
  let cache = zoneCache.get(root);
  if (!cache) zoneCache.set(root, (cache = new Map()));
  const stamp = stampOf(root.stat(path));
  const hit = cache.get(path);
  if (hit && hit.stamp === stamp) return hit.result;
  const result = loadZone(root, zone, path);
  cache.set(path, { stamp, result });
  return result;
}

function loadZone(root: ServerRoot, zone: string, path: string): ParsedZone | Problem {
  let text: string | null;
  try {
    text = root.readText(path);
  } catch (err) {
    return problem('zone-unreadable', `${path} cannot be read: ${(err as Error).message}`, { subject: zone, severity: 'error' });
  }
  if (text === null) return problem('zone-missing', `${path} does not exist.`, { subject: zone, severity: 'error' });
  return parseZoneText(root, zone, text);
}

/** Parse a zone file's text, following `$INCLUDE` under the root; what cannot be read becomes a Problem. */
export function parseZoneText(root: ServerRoot, zone: string, text: string): ParsedZone | Problem {
  const path = zoneFilePath(zone);
  try {
    return parseZone(text, zone, {
      readInclude: (p: string) => {
        const serverPath = p.startsWith('/') ? p : `${NAMED_DIR}/${p}`;
        const t = root.readText(serverPath);
        if (t === null) throw new Error(`$INCLUDE file ${serverPath} does not exist`);
        return t;
      },
    });
  } catch (err) {
    if (err instanceof ZoneSyntaxError) {
      return problem('zone-syntax', `${path} line ${err.line}: ${err.message}`, {
        subject: zone,
        fix: 'Fix the zone file (named-checkzone shows the same error); TLSA Manager will not edit a zone it cannot read.',
        severity: 'error',
      });
    }
    return problem('zone-unreadable', `${path} cannot be read: ${(err as Error).message}`, { subject: zone, severity: 'error' });
  }
}

/** The zones whose files live on this server (`/var/named/<zone>.db`, BIND and PowerDNS on cPanel). */
export class LocalZones {
  readonly names: Set<string>;

  constructor(private readonly root: ServerRoot) {
    this.names = new Set();
    for (const f of root.list(NAMED_DIR)) {
      if (!f.endsWith('.db')) continue;
      const c = checkName(f.slice(0, -3));
      if (c.ok) this.names.add(c.name);
    }
  }

  zoneOf(name: string): string | null {
    return enclosingZone(name, this.names);
  }

  get(zone: string): ParsedZone | Problem {
    return readParsedZone(this.root, zone);
  }
}
