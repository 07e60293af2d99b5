/** Plain-text table for terminals; cells are made single-line and printable. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  // eslint-disable-next-line no-control-regex
  const clean = (v: unknown) => (v === null || v === undefined ? '' : String(v)).replace(/[\x00-\x1f\x7f]/g, '?');
  const cells = rows.map((r) => r.map(clean));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
