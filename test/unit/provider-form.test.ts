import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { changedFields, formFields, formState, settingsFromForm } from '../../src/web/provider-form.js';
import type { ProviderModule } from '../../src/providers/types.js';
import { PROVIDERS } from '../../src/providers/registry.js';

/** A module of every field shape a provider may declare; the form must follow its schema. */
const settings = z
  .object({
    server: z.string().min(1),
    port: z.number().int().default(53),
    zones: z.array(z.string()).optional(),
    strict: z.boolean().default(true),
    tsig: z.object({ name: z.string(), algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256'), secret: z.string().optional() }).optional(),
  })
  .strict();
const demo: ProviderModule = {
  kind: 'demo',
  label: 'Demo',
  settings: settings as z.ZodType<unknown>,
  secrets: ['tsig.secret'],
  fields: [
    { path: 'server', label: 'Server', secret: false, placeholder: '192.0.2.53:53' },
    { path: 'port', label: 'Port', secret: false },
    { path: 'zones', label: 'Zones', secret: false },
    { path: 'strict', label: 'Strict', secret: false },
    { path: 'tsig.algorithm', label: 'Algorithm', secret: false },
    { path: 'tsig.secret', label: 'Secret', secret: true },
  ],
  capabilities: { tlsa: true, txt: true, dnssec: false, dsLookup: false, verify: false, batchSize: Infinity, marksOwnership: false },
  namedInstances: true,
  describe: () => 'x',
  create: async () => {
    throw new Error('not made here');
  },
};

describe('provider forms generated from the module (issue 25)', () => {
  it('each field gets the input its schema calls for', () => {
    expect(formFields(demo).map((f) => [f.path, f.input, f.options ?? null, f.fallback ?? null])).toEqual([
      ['server', 'text', null, null],
      ['port', 'number', null, '53'],
      ['zones', 'lines', null, null],
      ['strict', 'checkbox', null, 'true'],
      ['tsig.algorithm', 'select', ['hmac-sha256', 'hmac-sha512'], 'hmac-sha256'],
      ['tsig.secret', 'password', null, null],
    ]);
  });

  it('a field naming no setting of the schema is a programming error, found when the form is made', () => {
    expect(() => formFields({ ...demo, fields: [{ path: 'tsig.nope', label: 'x', secret: false }] })).toThrow(/tsig\.nope/);
  });

  it('every registered module describes fields its schema has', () => {
    for (const p of PROVIDERS) expect(() => formFields(p as unknown as ProviderModule), p.kind).not.toThrow();
  });

  it('shows values but never a secret, only whether it is saved', () => {
    const st = formState(demo, { server: '192.0.2.1', zones: ['a.test', 'b.test'], strict: false, tsig: { name: 'k.', secret: 'SEKRIT' } });
    expect(st.values).toEqual({ server: '192.0.2.1', port: '', zones: 'a.test\nb.test', strict: false, 'tsig.algorithm': '' });
    expect(st.saved).toEqual({ 'tsig.secret': true });
    expect(JSON.stringify(st)).not.toContain('SEKRIT');
  });

  it('reads a posted form on top of the saved settings: missing keeps, empty unsets, empty secret keeps, clear removes', () => {
    const current = { server: '192.0.2.1', port: 5353, strict: true, tsig: { name: 'k.', secret: 'SEKRIT' } };
    expect(settingsFromForm(demo, { 'f.server': ' 192.0.2.9:53 ', 'f.port': '', 'f.zones': 'a.test\n b.test', 'f.tsig.secret': '' }, 'f.', current)).toEqual({ server: '192.0.2.9:53', strict: true, zones: ['a.test', 'b.test'], tsig: { name: 'k.', secret: 'SEKRIT' } });
    expect(settingsFromForm(demo, { 'f.strict:shown': '1', 'f.tsig.secret': 'NEW' }, 'f.', current)).toEqual({ ...current, strict: false, tsig: { name: 'k.', secret: 'NEW' } });
    expect(settingsFromForm(demo, { 'f.clear:tsig.secret': '1', 'f.tsig.secret': 'ignored' }, 'f.', current)).toEqual({ ...current, tsig: { name: 'k.' } });
    expect(current.tsig.secret).toBe('SEKRIT');
  });

  it('names changed fields for the activity log, secrets only as replaced or removed', () => {
    const a = { server: 'x', tsig: { name: 'k.', secret: 'S1' } };
    expect(changedFields(demo, a, { server: 'y', tsig: { name: 'k.', secret: 'S2' } })).toEqual(['server', 'tsig.secret replaced']);
    expect(changedFields(demo, a, { server: 'x', tsig: { name: 'k.' } })).toEqual(['tsig.secret removed']);
  });
});
