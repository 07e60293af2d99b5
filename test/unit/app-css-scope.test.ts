import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Issue 16: the product's stylesheet lives inside WHM's pages, so every rule must be scoped under
// the product's wrapper class; a bare `a`, `h1` or `body` rule would restyle WHM's chrome.

const CSS = readFileSync(resolve(__dirname, '../../public/app.css'), 'utf8');

/** Every selector of every style rule (inside @media blocks too), comments removed. */
function selectors(css: string): string[] {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '');
  const out: string[] = [];
  for (const m of text.matchAll(/([^{}]+)\{[^{}]*\}/g)) {
    const head = m[1]!.trim().replace(/^@media[^{]*\{/, '').trim();
    if (!head || head.startsWith('@')) continue;
    out.push(...head.split(',').map((s) => s.trim()));
  }
  return out;
}

describe('public/app.css', () => {
  it('scopes every selector under .tlsam', () => {
    const all = selectors(CSS);
    expect(all.length).toBeGreaterThan(100);
    const unscoped = all.filter((s) => !/^\.tlsam(?![\w-])/.test(s));
    expect(unscoped).toEqual([]);
  });

  it('finds an unscoped rule when there is one (the check itself works)', () => {
    expect(selectors(`${CSS}\nh1, .tlsam a { color: red; }\n@media (max-width: 1px) { body { margin: 0; } }`).filter((s) => !/^\.tlsam(?![\w-])/.test(s))).toEqual(['h1', 'body']);
  });
});
