#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/manage_hooks (NOT cPanel). Registry kept as JSON in
// /var/cpanel/hooks/demo-registry.json as { category: { event: [hook entries] } }.
//   manage_hooks add script PATH [--manual [1]] --category C --event E --stage pre|post [--weight N]
//   manage_hooks add script PATH                  (runs PATH --describe, reads JSON registrations)
//   manage_hooks delete script PATH [--manual [1] --category C --event E --stage S]
//   manage_hooks list [--output=JSON]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { fail, logCall, under } from './lib.mjs';

const argv = process.argv.slice(2);
logCall('manage_hooks', argv);

const REGISTRY = under('/var/cpanel/hooks/demo-registry.json');
const CATEGORIES = new Set(['Cpanel', 'Whostmgr', 'System', 'Passwd', 'PkgAcct', 'Stats', 'RoundCube', 'Dovecot']);
const FLAGS_WITH_VALUE = new Set(['category', 'event', 'stage', 'weight', 'exectype', 'hook', 'output']);

function parse(args) {
  const opts = {};
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const [flag, inline] = a.slice(2).split(/=(.*)/s);
    if (inline !== undefined) opts[flag] = inline;
    else if (FLAGS_WITH_VALUE.has(flag)) opts[flag] = args[++i];
    else if (flag === 'manual' || flag === 'escalateprivs' || flag === 'blocking') {
      opts[flag] = args[i + 1] === '0' || args[i + 1] === '1' ? args[++i] === '1' : true;
    } else fail(`Unknown option --${flag}`);
  }
  return { opts, positional };
}

function load() {
  return existsSync(REGISTRY) ? JSON.parse(readFileSync(REGISTRY, 'utf8')) : {};
}

function save(reg) {
  mkdirSync(dirname(REGISTRY), { recursive: true });
  writeFileSync(`${REGISTRY}.tmp`, JSON.stringify(reg, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${REGISTRY}.tmp`, REGISTRY);
}

function validate(h) {
  if (!CATEGORIES.has(h.category)) return `invalid category “${h.category}”`;
  if (typeof h.event !== 'string' || !/^[A-Za-z0-9_:]+$/.test(h.event)) return `invalid event “${h.event}”`;
  if (h.stage !== 'pre' && h.stage !== 'post') return `invalid stage “${h.stage}” (pre or post)`;
  if (typeof h.hook !== 'string' || h.hook === '') return 'missing hook';
  return null;
}

/** Registrations from `PATH --describe` (a JSON object or array), as the real tool does. */
function describe(script) {
  const r = spawnSync(script, ['--describe'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) fail(`“${script} --describe” failed: ${r.error?.message ?? r.stderr.trim() ?? `exit ${r.status}`}`);
  let parsed;
  try { parsed = JSON.parse(r.stdout); } catch { fail(`“${script} --describe” did not print JSON.`); }
  return (Array.isArray(parsed) ? parsed : [parsed]).map((d) => ({ ...d, hook: d.hook ?? script }));
}

function add(script, opts) {
  const wanted = opts.manual
    ? [{ category: opts.category, event: opts.event, stage: opts.stage, hook: script, escalateprivs: !!opts.escalateprivs, weight: opts.weight }]
    : describe(script);
  const reg = load();
  for (const w of wanted) {
    const problem = validate(w);
    if (problem) fail(`Cannot add hook: ${problem}.`);
  }
  for (const w of wanted) {
    const list = ((reg[w.category] ??= {})[w.event] ??= []);
    if (list.some((h) => h.hook === w.hook && h.stage === w.stage)) {
      process.stdout.write(`Hook for ${w.category}::${w.event} (${w.stage}) already exists; skipped.\n`);
      continue;
    }
    list.push({
      id: randomBytes(12).toString('hex'),
      hook: w.hook,
      stage: w.stage,
      exectype: w.exectype ?? opts.exectype ?? 'script',
      weight: Number(w.weight ?? 100),
      escalateprivs: w.escalateprivs ? 1 : 0,
      ...(w.blocking !== undefined ? { blocking: w.blocking ? 1 : 0 } : {}),
    });
    process.stdout.write(`Added hook for ${w.category}::${w.event} to hooks registry\n`);
  }
  save(reg);
}

function del(script, opts) {
  const reg = load();
  let removed = 0;
  for (const [category, events] of Object.entries(reg)) {
    if (opts.category && category !== opts.category) continue;
    for (const [event, list] of Object.entries(events)) {
      if (opts.event && event !== opts.event) continue;
      const keep = list.filter((h) => !(h.hook === script && (!opts.stage || h.stage === opts.stage)));
      removed += list.length - keep.length;
      if (keep.length) events[event] = keep; else delete events[event];
    }
    if (Object.keys(events).length === 0) delete reg[category];
  }
  if (removed === 0) fail(`No hooks found for “${script}”.`);
  save(reg);
  process.stdout.write(`Deleted ${removed} hook(s) for ${script}\n`);
}

function list(opts) {
  const reg = load();
  if ((opts.output ?? '').toUpperCase() === 'JSON') { process.stdout.write(JSON.stringify(reg) + '\n'); return; }
  for (const [category, events] of Object.entries(reg)) {
    for (const [event, hooks] of Object.entries(events)) {
      for (const h of hooks) process.stdout.write(`${category}::${event}\t${h.stage}\t${h.hook}\t(id ${h.id})\n`);
    }
  }
}

const { opts, positional } = parse(argv);
const [action, kind, script] = positional;
if (action === 'list') list(opts);
else if (action === 'add' || action === 'delete') {
  if (kind !== 'script' && kind !== 'module') fail(`Usage: manage_hooks ${action} script PATH …`);
  if (!script) fail(`Usage: manage_hooks ${action} script PATH …`);
  if (action === 'add') {
    if (kind === 'script') {
      if (!isAbsolute(script)) fail(`The hook script path must be absolute: “${script}”.`);
      try { accessSync(script, constants.X_OK); } catch { fail(`The hook script “${script}” does not exist or is not executable.`); }
    }
    add(script, opts);
  } else del(script, opts);
} else fail('Usage: manage_hooks add|delete script PATH … | list [--output=JSON]');
