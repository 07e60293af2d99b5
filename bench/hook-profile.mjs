// Where a hook event's time goes in the service's code path (issue 26): one warm process (like the
// running service) runs N post events through runHook, the CPU profiler (node:inspector) records
// only the measured events, and the profile is summarised by self time and by the inclusive time
// of our own functions (dist/ frames), per event.
// Usage: node bench/hook-profile.mjs APPLIED_ROOT [EVENTS]
import { Session } from 'node:inspector/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './lib.mjs';

const root = process.argv[2];
const N = Number(process.argv[3] ?? 200);
const { createContext, createLogger } = await import(join(REPO, 'dist/context.js'));
const { runHook } = await import(join(REPO, 'dist/hooks/hook.js'));
const manifest = JSON.parse(readFileSync(join(root, 'demo-manifest.json'), 'utf8'));
const local = manifest.domains.filter((d) => d.mx?.some((m) => m.here) && d.kind === 'main');
const ctx = createContext({ root, logger: createLogger({ level: 'warn' }) });
const post = (domain) => JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' }, data: { domain } });

for (let i = 0; i < 5; i++) await runHook(ctx, post(local[local.length - 1 - i].name));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
await session.post('Profiler.start');
const times = [];
for (let i = 0; i < N; i++) {
  const t0 = process.hrtime.bigint();
  const out = await runHook(ctx, post(local[i % local.length].name));
  if (!out.ok) throw new Error(out.message);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const { profile: prof } = await session.post('Profiler.stop');

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
const label = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const selfBy = new Map();
const inclBy = new Map();
for (const [id, t] of self) {
  const l0 = label(byId.get(id));
  selfBy.set(l0, (selfBy.get(l0) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclBy.set(l, (inclBy.get(l) ?? 0) + t);
  }
}
const top = (m, k, filter = () => true) => [...m].filter(([l]) => filter(l)).sort((a, b) => b[1] - a[1]).slice(0, k).map(([l, t]) => `${(t / N).toFixed(2).padStart(8)} ms/event  ${l}`);
const sorted = [...times].sort((a, b) => a - b);
console.log(`events ${N}: p50 ${sorted[Math.floor(N / 2)].toFixed(1)} ms, p95 ${sorted[Math.ceil(N * 0.95) - 1].toFixed(1)} ms, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
console.log('--- self time');
console.log(top(selfBy, 30).join('\n'));
console.log('--- inclusive, our code');
console.log(top(inclBy, 50, (l) => l.includes('dist/')).join('\n'));
