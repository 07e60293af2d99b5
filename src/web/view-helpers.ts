import { TLSA_STATE_LABELS } from '../report/audit.js';
import { VERDICTS, type Verdict } from '../dane/verdict.js';
import { DNSSEC_STATES } from '../dnssec/state.js';
import { printable } from '../dns/names.js';
import { severityOf } from '../problem.js';
import { CATEGORIES, type Category } from './snapshot.js';

export const CATEGORY_COLORS = Object.fromEntries(Object.entries(CATEGORIES).map(([k, c]) => [k, c.color])) as Record<Category, string>;

export interface Bar {
  category: Category;
  label: string;
  count: number;
  color: string;
  /** Bar length in SVG units (0..max). */
  width: number;
  y: number;
}

/** Horizontal bar chart geometry; the template draws it as inline SVG (no script, no styles). */
export function barChart(counts: Record<Category, number>, max = 360, rowHeight = 34): { bars: Bar[]; height: number; total: number } {
  // Always the four big buckets; the finer ones (warnings, expiring, expired, unchecked) when they hold a domain.
  const cats = (Object.keys(CATEGORIES) as Category[]).filter((c) => ['valid', 'broken', 'unprotected', 'not-ours'].includes(c) || counts[c] > 0);
  const top = Math.max(1, ...cats.map((c) => counts[c]));
  const total = cats.reduce((n, c) => n + counts[c], 0);
  const bars = cats.map((c, i) => ({
    category: c,
    label: CATEGORIES[c].label,
    count: counts[c],
    color: CATEGORY_COLORS[c],
    width: counts[c] === 0 ? 0 : Math.max(3, Math.round((counts[c] / top) * max)),
    y: i * rowHeight,
  }));
  return { bars, height: cats.length * rowHeight, total };
}

export function verdictLabel(v: string | null): string {
  if (!v) return 'Not checked';
  return VERDICTS[v as Verdict]?.label ?? v;
}

/** CSS class for a verdict badge: ok / warn / error / info / none. */
export function verdictClass(v: string | null): string {
  if (!v) return 'none';
  return VERDICTS[v as Verdict]?.severity ?? 'error';
}

/** A problem's severity (sev-error / sev-warning / sev-info), from its code's kind. */
export const severity = severityOf;

export const TLSA_LABELS: Record<string, string> = TLSA_STATE_LABELS;

/** The DNSSEC chain words of issue 12 (src/dnssec/state.ts), one label each. */
export const DNSSEC_LABELS: Record<string, string> = Object.fromEntries(Object.entries(DNSSEC_STATES).map(([k, v]) => [k, v.label]));

export function date(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '—';
}

export function dateTime(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '—';
}

/** "in 12 days" / "3 days ago" relative to now. */
export function daysFrom(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const d = Math.round((Date.parse(iso) - now) / 86_400_000);
  if (d === 0) return 'today';
  return d > 0 ? `in ${d} day${d === 1 ? '' : 's'}` : `${-d} day${d === -1 ? '' : 's'} ago`;
}

/**
 * Untrusted certificate text made visible: control characters shown as \xNN. HTML escaping is
 * still done by the template (`<%=`); this only keeps invisible characters from hiding things.
 */
export function visible(s: string | null | undefined, max = 300): string {
  return s === null || s === undefined ? '' : printable(s, max);
}

export function shortHex(hex: string, n = 16): string {
  return hex.length > n ? `${hex.slice(0, n)}…` : hex;
}

/**
 * The word an activity line's Result column shows, and its badge class. "ok"/"failed" fit what we
 * did (a publish, a hook); a check or an alert reports what it found, so it gets that word: a
 * missing DS is "not protected", not "ok", and a raised alert is "raised", not "failed".
 */
export function activityResult(a: { kind: string; ok: boolean; detail: string }): { word: string; cls: string } {
  if (a.kind === 'alert') {
    if (a.detail.startsWith('raised:')) return { word: 'raised', cls: 'warn' };
    if (a.detail.startsWith('resolved:')) return { word: 'resolved', cls: 'ok' };
    if (a.detail.startsWith('acknowledged:')) return { word: 'acknowledged', cls: 'info' };
  }
  if (a.kind === 'check') {
    const v = Object.values(VERDICTS).find((x) => a.detail.startsWith(`${x.label}:`));
    if (v) return { word: v.label, cls: v.severity };
  }
  if (a.kind === 'dnssec') {
    const to = /→ ([^(.:]+)/.exec(a.detail)?.[1]?.trim();
    const st = Object.values(DNSSEC_STATES).find((x) => x.label === to);
    if (st) return { word: st.label, cls: st.severity };
  }
  return a.ok ? { word: 'ok', cls: 'ok' } : { word: 'failed', cls: 'error' };
}
