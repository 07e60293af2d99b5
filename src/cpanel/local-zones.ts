import { checkName, isSubdomainOf } from '../dns/names.js';
import { parseZone, ZoneSyntaxError, type ParsedZone } from '../dns/zonefile.js';
import { problem, type Problem } from '../problem.js';
import type { ServerRoot } from './server-root.js';

const NAMED_DIR = '/var/named';

/** Server path of a zone's file (`/var/named/<zone>.db`); `zone` must be a validated name. */
export function zoneFilePath(zone: string): string {
  return `${NAMED_DIR}/${zone}.db`;
}

/**
 * The zones whose files live on this server (`/var/named/<zone>.db`, the layout of both BIND and
 * PowerDNS on cPanel), parsed lazily and once per run.
 */
export class LocalZones {
  readonly names: Set<string>;
  private readonly parsed = new Map<string, ParsedZone | Problem>();

  constructor(private readonly root: ServerRoot) {
    this.names = new Set();
    for (const f of root.list(NAMED_DIR)) {
      if (!f.endsWith('.db')) continue;
      const c = checkName(f.slice(0, -3));
      if (c.ok) this.names.add(c.name);
    }
  }

  /** The closest enclosing zone among `zones` (local ones by default). */
  static enclosing(name: string, zones: Iterable<string>): string | null {
    let best: string | null = null;
    for (const z of zones) if (isSubdomainOf(name, z) && (!best || z.length > best.length)) best = z;
    return best;
  }

  zoneOf(name: string): string | null {
    // Walk up the labels: cheaper than scanning every zone for each name on a big server.
    let n = name;
    for (;;) {
      if (this.names.has(n)) return n;
      const dot = n.indexOf('.');
      if (dot < 0) return null;
      n = n.slice(dot + 1);
    }
  }

  get(zone: string): ParsedZone | Problem {
    const hit = this.parsed.get(zone);
    if (hit) return hit;
    const result = this.load(zone);
    this.parsed.set(zone, result);
    return result;
  }

  private load(zone: string): ParsedZone | Problem {
    const path = zoneFilePath(zone);
    try {
      const text = this.root.readText(path);
      if (text === null) return problem('zone-missing', `${path} does not exist.`, { subject: zone, severity: 'error' });
      return parseZone(text, zone, {
        readInclude: (p: string) => {
          const serverPath = p.startsWith('/') ? p : `${NAMED_DIR}/${p}`;
          const t = this.root.readText(serverPath);
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
}
