/**
 * The settings page's provider fields, generated from each module (issue 25): the module lists its
 * fields (path, label, secret), its zod schema says what each one holds, and one partial
 * (views/partials/form/provider-fields.ejs) draws them. Adding a provider adds its form; nothing
 * here or in the views names a kind.
 *
 * Form names are flat (`<prefix><path>`, express.urlencoded without extended parsing), e.g.
 * `f.tsig.secret`. A secret is write-only: the page never shows it, an empty input keeps the saved
 * one, and `<prefix>clear:<path>` removes it.
 */
import type { z } from 'zod';
import type { ProviderModule } from '../providers/types.js';
import { formString } from './params.js';

export type InputKind = 'text' | 'password' | 'number' | 'select' | 'lines' | 'checkbox';

export interface FormField {
  /** Dot path inside the instance's settings. */
  path: string;
  label: string;
  secret: boolean;
  placeholder?: string;
  input: InputKind;
  /** The choices of a select (a zod enum). */
  options?: string[];
  /** Present when the schema has a default: what an empty input means. */
  fallback?: string;
}

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; entries?: Record<string, string>; element?: z.ZodType; defaultValue?: unknown; options?: z.ZodType[] };
const defOf = (t: z.ZodType): Def => (t as unknown as { def: Def }).def;

/** The schema at a dot path, with its default (if any), past optional/default/nullable wrappers. */
function schemaAt(root: z.ZodType, path: string): { type: z.ZodType; fallback?: unknown } {
  let cur = root;
  let fallback: unknown;
  const unwrap = () => {
    for (;;) {
      const d = defOf(cur);
      if (d.type === 'default') fallback = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      if ((d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault') && d.innerType) cur = d.innerType;
      else return;
    }
  };
  unwrap();
  for (const key of path.split('.')) {
    const d = defOf(cur);
    const next = d.type === 'object' ? d.shape?.[key] : undefined;
    if (!next) throw new Error(`provider field ${path}: no such setting in the module's schema`);
    cur = next;
    fallback = undefined;
    unwrap();
  }
  return { type: cur, ...(fallback !== undefined ? { fallback } : {}) };
}

function inputFor(t: z.ZodType, secret: boolean): { input: InputKind; options?: string[] } {
  const d = defOf(t);
  if (secret) return { input: 'password' };
  if (d.type === 'enum' && d.entries) return { input: 'select', options: Object.values(d.entries) };
  if (d.type === 'number') return { input: 'number' };
  if (d.type === 'boolean') return { input: 'checkbox' };
  if (d.type === 'array') return { input: 'lines' };
  return { input: 'text' };
}

/** The fields of a module as the form draws them, in the module's order. */
export function formFields(m: ProviderModule): FormField[] {
  return m.fields.map((f) => {
    const { type, fallback } = schemaAt(m.settings, f.path);
    const shown = fallback === undefined ? undefined : Array.isArray(fallback) ? fallback.join(' ') : String(fallback);
    return { path: f.path, label: f.label, secret: f.secret, ...(f.placeholder ? { placeholder: f.placeholder } : {}), ...inputFor(type, f.secret), ...(shown !== undefined ? { fallback: shown } : {}) };
  });
}

function getAt(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    cur = cur[k] = next && typeof next === 'object' ? { ...(next as Record<string, unknown>) } : {};
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** What the form shows for saved settings: values of ordinary fields, and only whether each secret is saved. */
export function formState(m: ProviderModule, settings: unknown): { values: Record<string, string | boolean>; saved: Record<string, boolean> } {
  const values: Record<string, string | boolean> = {};
  const saved: Record<string, boolean> = {};
  for (const f of formFields(m)) {
    const v = getAt(settings, f.path);
    if (f.secret) saved[f.path] = v !== undefined;
    else if (f.input === 'checkbox') values[f.path] = v === true;
    else values[f.path] = v === undefined ? '' : Array.isArray(v) ? v.join('\n') : String(v);
  }
  return { values, saved };
}

/**
 * The settings a posted form means, on top of `current`: a field missing from the form keeps its
 * value; an empty ordinary field is unset (the schema's default applies); an empty secret keeps the
 * saved one unless its clear box is ticked. Not validated here: the module's schema does that when
 * the whole config is parsed, so a refusal names the field and changes nothing.
 */
export function settingsFromForm(m: ProviderModule, body: Record<string, unknown>, prefix: string, current: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = current && typeof current === 'object' ? structuredClone(current as Record<string, unknown>) : {};
  for (const f of formFields(m)) {
    const key = `${prefix}${f.path}`;
    if (f.secret) {
      const v = formString(body[key]).trim();
      if (formString(body[`${prefix}clear:${f.path}`]) === '1') setAt(out, f.path, undefined);
      else if (v) setAt(out, f.path, v);
      continue;
    }
    if (f.input === 'checkbox') {
      // An unticked box is absent from the form: the hidden `<key>:shown` says the box was on it.
      if (formString(body[`${key}:shown`]) === '1') setAt(out, f.path, formString(body[key]) === '1');
      continue;
    }
    if (!Object.hasOwn(body, key)) continue;
    const v = formString(body[key]).trim();
    if (v === '') setAt(out, f.path, undefined);
    else if (f.input === 'number') setAt(out, f.path, /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    else if (f.input === 'lines') setAt(out, f.path, v.split(/[\s,]+/).filter(Boolean));
    else setAt(out, f.path, v);
  }
  return out;
}

/** The fields whose value a save changed, for the activity log: secrets only as "replaced"/"removed". */
export function changedFields(m: ProviderModule, before: unknown, after: unknown): string[] {
  const out: string[] = [];
  for (const f of formFields(m)) {
    const a = getAt(before, f.path);
    const b = getAt(after, f.path);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    out.push(f.secret ? `${f.path} ${b === undefined ? 'removed' : 'replaced'}` : f.path);
  }
  return out;
}
