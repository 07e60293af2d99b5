import type { TlsrptRow } from './store.js';

/**
 * Geometry of the domain page's TLS-RPT timeline (pure; the template draws it as inline SVG like
 * the overview chart): one lane per sending organisation, one cell per reported day, red where
 * sessions failed, and the zone's publish events as ticks on the same time axis. Every text here
 * comes from reports anyone can mail: the template escapes it (<%= %>), nothing is pre-escaped.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
export const TIMELINE_DAYS = 90;
// Lane labels are cut to 28 characters (views/partials/tlsrpt.ejs); 260 px holds 28 at 13 px even in capitals.
const LABEL_W = 260;
// 8 px a day: a day's cell stays visible and a 90-day window fits the page beside the labels.
const PLOT_W = TIMELINE_DAYS * 8;
const LANE_H = 22;
const AXIS_H = 26;
const MAX_LANES = 10;

export interface TimelineCell {
  x: number;
  w: number;
  color: string;
  title: string;
}

export interface TimelineLane {
  label: string;
  y: number;
  successful: number;
  failed: number;
  /** Failed sessions by result-type, most first. */
  types: { type: string; count: number }[];
  /** DKIM signers of this sender's authenticated reports (empty: none was authenticated). */
  signers: string[];
  /** This sender's reports that were not authenticated (claims). */
  unauthenticated: number;
  cells: TimelineCell[];
}

export interface Timeline {
  width: number;
  height: number;
  plotX: number;
  plotW: number;
  from: number;
  to: number;
  lanes: TimelineLane[];
  /** Senders beyond the lanes shown (folded into the totals only). */
  moreSenders: number;
  markers: { x: number; title: string; kind: string }[];
  ticks: { x: number; label: string }[];
  successful: number;
  failed: number;
}

export const CELL_OK = '#2e7d32';
export const CELL_FAILED = '#c62828';

function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function buildTimeline(rows: TlsrptRow[], events: { time: number; kind: string; detail: string }[], now: number): Timeline {
  const to = dayStart(now) + DAY_MS;
  const from = to - TIMELINE_DAYS * DAY_MS;
  const xOf = (t: number) => LABEL_W + Math.round(((Math.min(Math.max(t, from), to) - from) / (to - from)) * PLOT_W);
  const inWindow = rows.filter((r) => r.end >= from && r.start < to);
  const bySender = new Map<string, TlsrptRow[]>();
  for (const r of inWindow) bySender.set(r.organization, [...(bySender.get(r.organization) ?? []), r]);
  const senders = [...bySender].map(([label, rs]) => ({ label, rs, successful: rs.reduce((n, r) => n + r.successful, 0), failed: rs.reduce((n, r) => n + r.failed, 0) }));
  // Failing senders first, then the busiest.
  senders.sort((a, b) => Number(b.failed > 0) - Number(a.failed > 0) || b.successful + b.failed - (a.successful + a.failed) || a.label.localeCompare(b.label));
  const lanes = senders.slice(0, MAX_LANES).map((s, i): TimelineLane => {
    const types = new Map<string, number>();
    for (const r of s.rs) for (const f of r.results) types.set(f.resultType, (types.get(f.resultType) ?? 0) + f.count);
    const cells = s.rs.map((r): TimelineCell => {
      const x = xOf(r.start);
      const kinds = r.results.map((f) => f.resultType);
      return {
        x,
        w: Math.max(3, xOf(r.end) - x),
        color: r.failed > 0 ? CELL_FAILED : CELL_OK,
        title: `${new Date(r.start).toISOString().slice(0, 10)} to ${new Date(r.end).toISOString().slice(0, 10)}: ${r.successful} successful, ${r.failed} failed${kinds.length ? ` (${kinds.join(', ')})` : ''}`,
      };
    });
    const signers = [...new Set(s.rs.filter((r) => r.authenticated).map((r) => r.signer))].slice(0, 3);
    const unauthenticated = new Set(s.rs.filter((r) => !r.authenticated).map((r) => r.reportId)).size;
    return { label: s.label, y: AXIS_H + i * LANE_H, successful: s.successful, failed: s.failed, signers, unauthenticated, types: [...types].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count), cells };
  });
  const ticks: Timeline['ticks'] = [];
  // Counted back from today (the axis ends with today, not with tomorrow's date).
  for (let k = 0; k * 30 <= TIMELINE_DAYS; k++) {
    const t = to - k * 30 * DAY_MS;
    ticks.unshift({ x: xOf(t), label: k === 0 ? 'today' : new Date(t).toISOString().slice(0, 10) });
  }
  const markers = events.filter((e) => e.time >= from && e.time < to).map((e) => ({ x: xOf(e.time), kind: e.kind, title: `${new Date(e.time).toISOString().slice(0, 16).replace('T', ' ')} ${e.kind}: ${e.detail}` }));
  return {
    // Room on the right for half of the last date label (centred on the axis end).
    width: LABEL_W + PLOT_W + 40,
    height: AXIS_H + Math.max(1, lanes.length) * LANE_H + 4,
    plotX: LABEL_W,
    plotW: PLOT_W,
    from,
    to,
    lanes,
    moreSenders: Math.max(0, senders.length - MAX_LANES),
    markers,
    ticks,
    successful: senders.reduce((n, s) => n + s.successful, 0),
    failed: senders.reduce((n, s) => n + s.failed, 0),
  };
}
