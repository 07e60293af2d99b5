// (3) apply in zone-file mode over a copy of the large root: wall time of `apply --yes` as a
// process, zone files written, then a no-change re-run that must write nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { changedFiles, cli, countBackups, freshCopy, zoneFileConfig, zoneStamps } from './work-root.mjs';

const source = process.argv[2];
const root = freshCopy(source, 'apply');
zoneFileConfig(root);

const before = zoneStamps(root);
const first = cli(['apply', '--yes', '--json', '--root', root]);
const afterFirst = zoneStamps(root);
const out = JSON.parse(first.stdout);
const applied = out.results.reduce((n, r) => n + r.applied.length, 0);
const failed = out.results.filter((r) => r.problem).length;
const backupsFirst = countBackups(root);

const second = cli(['apply', '--yes', '--json', '--root', root]);
const afterSecond = zoneStamps(root);
const again = JSON.parse(second.stdout);

// The hook/reconcile section may start from this applied copy instead of applying again.
writeFileSync(join(root, '.bench-applied'), `${source}\n`);

console.log(JSON.stringify({
  zones: before.size,
  zonesInPlan: out.plan.zones.length,
  firstMs: Math.round(first.wallMs),
  zoneFilesWritten: changedFiles(before, afterFirst),
  backups: backupsFirst,
  recordsCreated: applied,
  zonesFailed: failed,
  secondMs: Math.round(second.wallMs),
  secondChanges: again.results.reduce((n, r) => n + r.applied.length, 0),
  secondFilesWritten: changedFiles(afterFirst, afterSecond),
  secondBackups: countBackups(root) - backupsFirst,
}));
