// (5) Issue 6 on a copy of the large root in zone-file mode with records already published:
// one post-stage hook (node start included) and the idle periodic reconcile.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORK } from './lib.mjs';
import { changedFiles, cli, countBackups, freshCopy, median, zoneFileConfig, zoneStamps } from './work-root.mjs';

const source = process.argv[2];
const RUNS = 5;

// Start from the apply section's copy when it was made from the same root (saves a full apply).
const applied = join(WORK, 'apply-root');
const reuse = existsSync(join(applied, '.bench-applied')) && readFileSync(join(applied, '.bench-applied'), 'utf8').trim() === source;
const root = freshCopy(reuse ? applied : source, 'hook');
zoneFileConfig(root);
const firstApply = reuse ? null : cli(['apply', '--yes', '--root', root]);

const manifest = JSON.parse(readFileSync(join(source, 'demo-manifest.json'), 'utf8'));
const mid = Math.floor(manifest.domains.length / 2);
const domain = [...manifest.domains.slice(mid), ...manifest.domains].find((d) => d.mx?.some((m) => m.here))?.name;
if (!domain) throw new Error('no domain with a local MX host in the manifest');
const input = JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' }, data: { domain } });

const stamps0 = zoneStamps(root);
const hookRuns = [];
let hookAnswer = '';
for (let i = 0; i < RUNS; i++) {
  const r = cli(['hook', '--root', root], { input });
  hookAnswer = r.stdout.trim();
  if (!hookAnswer.startsWith('1 ')) throw new Error(`hook answered "${hookAnswer}"`);
  hookRuns.push(r.wallMs);
}

const stampsHook = zoneStamps(root);

// The first reconcile is a full run (no fingerprint stored yet); the next ones should be idle.
const full = cli(['reconcile', '--json', '--root', root]);
const fullResult = JSON.parse(full.stdout);
const stamps1 = zoneStamps(root);
const backups1 = countBackups(root);
const idleRuns = [];
const idleResults = [];
for (let i = 0; i < RUNS; i++) {
  const r = cli(['reconcile', '--json', '--root', root]);
  idleRuns.push(r.wallMs);
  idleResults.push(JSON.parse(r.stdout));
}
const stamps2 = zoneStamps(root);

console.log(JSON.stringify({
  zones: stamps0.size,
  reusedApplyCopy: reuse,
  firstApplyMs: firstApply ? Math.round(firstApply.wallMs) : null,
  hookDomain: domain,
  hookAnswer,
  hookMedianMs: Math.round(median(hookRuns)),
  hookRunsMs: hookRuns.map(Math.round),
  hookFilesWritten: changedFiles(stamps0, stampsHook),
  fullReconcileMs: Math.round(full.wallMs),
  fullReconcileApplied: fullResult.applied,
  fullReconcileSkipped: fullResult.skipped,
  idleMedianMs: Math.round(median(idleRuns)),
  idleRunsMs: idleRuns.map(Math.round),
  idleSkipped: idleResults.every((r) => r.skipped),
  idleApplied: idleResults.reduce((n, r) => n + r.applied, 0),
  idleFilesWritten: changedFiles(stamps1, stamps2),
  idleBackups: countBackups(root) - backups1,
}));
