import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { editZone, formatTlsaLine, parseZone, recordsAt, tlsaRecordsAt, ZoneEditError, type ZoneRecord } from '../../src/zonefile/index.js';
import type { TlsaRecord } from '../../src/tlsa/types.js';
import { VALID, ZONE_FIXTURES } from './zonefile-fixtures.js';

const DIR = ZONE_FIXTURES;
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const reader = (p: string) => readFileSync(join(DIR, p), 'utf8');
const digest = (s: string) => execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: s }).toString().split(' ')[0]!;

const work = mkdtempSync(join(tmpdir(), 'zonefile-edit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** named-checkzone on `text` (includes copied next to it); returns its exit status and output. */
function checkzone(zone: string, text: string, includes: string[] = []): { status: number | null; out: string } {
  for (const inc of includes) copyFileSync(join(DIR, inc), join(work, inc));
  const file = join(work, `${zone}.db`);
  writeFileSync(file, text);
  const r = spawnSync('named-checkzone', ['-i', 'local', '-w', work, zone, file]);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The TLSA records BIND itself loads from `text`: `owner ttl u s m hex` (hex lower-case, joined). */
function bindTlsa(zone: string, text: string, includes: string[] = []): string[] {
  for (const inc of includes) copyFileSync(join(DIR, inc), join(work, inc));
  const file = join(work, `${zone}.db`);
  writeFileSync(file, text);
  const out = execFileSync('named-compilezone', ['-q', '-k', 'ignore', '-i', 'none', '-w', work, '-o', '-', zone, file]).toString();
  return out
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === 'TLSA')
    .map((f) => `${f[0]!.replace(/\.$/, '')} ${f[1]} ${f[4]} ${f[5]} ${f[6]} ${f.slice(7).join('').toLowerCase()}`)
    .sort();
}

const tlsa = (owner: string, data: string, ttl = 3600): TlsaRecord => ({ owner, ttl, usage: 3, selector: 1, matchingType: 1, data });

describe('round trip: no changes and the same serial give the identical text', () => {
  for (const [file, zone] of VALID) {
    it(file, () => {
      const text = read(file);
      const parsed = parseZone(text, zone, { readInclude: reader });
      expect(editZone(text, parsed, { remove: [], add: [], serial: parsed.soa!.serial })).toBe(text);
    });
  }
});

describe('editing the cPanel zone', () => {
  const text = read('cpanel-example.com.db');
  const parsed = parseZone(text, 'example.com');
  const [one, two, three] = tlsaRecordsAt(parsed, ['_25._tcp.example.com']);

  it('removes one TLSA among several and bumps the serial; every other byte stays', () => {
    const out = editZone(text, parsed, { remove: [two!], add: [], serial: 2024010102 });
    const line = `_25._tcp.example.com.\t3600\tIN\tTLSA\t3 1 1 ${digest('two')}\n`;
    expect(text.split(line)).toHaveLength(2);
    expect(out).toBe(text.replace(line, '').replace('\t2024010101\t;Serial Number', '\t2024010102\t;Serial Number'));
    expect(checkzone('example.com', out).status).toBe(0);
    expect(bindTlsa('example.com', out)).toEqual(
      [`_25._tcp.example.com 3600 3 1 1 ${digest('one')}`, `_25._tcp.example.com 3600 2 1 2 ${three!.data}`].sort(),
    );
  });

  it('adds records at the end with absolute owners, and can remove and add in one edit', () => {
    const add = [tlsa('_25._tcp.mail.shop.example.com', digest('new').toUpperCase(), 600)];
    const out = editZone(text, parsed, { remove: [one!, three!], add, serial: 2024010200 });
    const expected =
      text
        .replace(`_25._tcp.example.com.\t3600\tIN\tTLSA\t3 1 1 ${digest('one')}\n`, '')
        .replace(/_25\._tcp\.example\.com\.\t3600\tIN\tTLSA\t2 1 2 [0-9a-f]+\n/, '')
        .replace('2024010101', '2024010200') + `_25._tcp.mail.shop.example.com.\t600\tIN\tTLSA\t3 1 1 ${digest('new')}\n`;
    expect(out).toBe(expected);
    expect(checkzone('example.com', out).status).toBe(0);
    expect(bindTlsa('example.com', out)).toEqual([`_25._tcp.example.com 3600 3 1 1 ${digest('two')}`, `_25._tcp.mail.shop.example.com 600 3 1 1 ${digest('new')}`]);
    const again = parseZone(out, 'example.com');
    expect(again.soa!.serial).toBe(2024010200);
    const others = (z: typeof parsed) => z.records.filter((r) => r.type !== 'TLSA' && r.type !== 'SOA').map((r) => [r.owner, r.ttl, r.type, r.rdata]);
    expect(others(again)).toEqual(others(parsed));
  });

  it('refuses to edit text other than the parsed text (offsets would cut the wrong lines)', () => {
    expect(() => editZone(`; new comment\n${text}`, parsed, { remove: [two!], add: [], serial: 2024010102 })).toThrow(/not the text that was parsed/);
    const changed = text.replace(digest('two'), digest('other'));
    expect(() => editZone(changed, parsed, { remove: [two!], add: [], serial: 2024010102 })).toThrow(/not the text that was parsed/);
    expect(() => editZone(read('crlf-example.net.db'), parsed, { remove: [], add: [], serial: 2024010102 })).toThrow(ZoneEditError);
  });

  it('works from a copy of the parse (e.g. passed between processes)', () => {
    const copy = structuredClone(parsed);
    const out = editZone(text, copy, { remove: [two!], add: [], serial: 2024010102 });
    expect(out).toBe(text.replace(`_25._tcp.example.com.\t3600\tIN\tTLSA\t3 1 1 ${digest('two')}\n`, '').replace('2024010101', '2024010102'));
  });

  it('refuses records that are not in the parse, and non-TLSA records', () => {
    const fake: ZoneRecord = { ...one!, start: one!.start + 1 };
    expect(() => editZone(text, parsed, { remove: [fake], add: [], serial: 2024010102 })).toThrow(/not in the parsed zone/);
    const mx = recordsAt(parsed, 'example.com', 'MX')[0]!;
    expect(() => editZone(text, parsed, { remove: [mx], add: [], serial: 2024010102 })).toThrow(/not TLSA/);
  });

  it('refuses a serial that does not increase, and duplicates, and owners outside the zone', () => {
    const add = [tlsa('_25._tcp.example.com', digest('new'))];
    for (const serial of [2024010101, 2024010100, 2024010101 + 2 ** 31]) {
      let err: unknown;
      try {
        editZone(text, parsed, { remove: [], add, serial });
      } catch (e) {
        err = e;
      }
      expect((err as ZoneEditError).problem.code).toBe('zone-edit-refused');
    }
    expect(() => editZone(text, parsed, { remove: [], add: [tlsa('_25._tcp.example.com', digest('one'))], serial: 2024010102 })).toThrow(/already in zone/);
    expect(() => editZone(text, parsed, { remove: [], add: [...add, ...add], serial: 2024010102 })).toThrow(/already in zone/);
    expect(() => editZone(text, parsed, { remove: [], add: [tlsa('_25._tcp.example.net', digest('new'))], serial: 2024010102 })).toThrow(/not inside zone/);
  });
});

describe('editing other layouts', () => {
  it('CRLF: removes a multi-line TLSA, appends with CRLF after a last line without newline', () => {
    const text = read('crlf-example.net.db');
    const parsed = parseZone(text, 'example.net');
    const [multi] = tlsaRecordsAt(parsed, ['_25._tcp.mail.example.net']);
    const out = editZone(text, parsed, { remove: [multi!], add: [tlsa('_25._tcp.mail.example.net', digest('three'))], serial: 2024020302 });
    const block = '_25._tcp.mail\t3600\tIN\tTLSA\t(\t3 1 1\r\n\t\t7692c3ad3540bb803c020b3aee66cd88\r\n\t\t87123234ea0c6e7143c0add73ff431ed )\r\n';
    expect(text.includes(block)).toBe(true);
    expect(out).toBe(`${text.replace(block, '').replace('2024020301', '2024020302')}\r\n_25._tcp.mail.example.net.\t3600\tIN\tTLSA\t3 1 1 ${digest('three')}\r\n`);
    expect(out.replace(/\r\n/g, '').includes('\n')).toBe(false);
    expect(checkzone('example.net', out).status).toBe(0);
    expect(bindTlsa('example.net', out)).toEqual([`_25._tcp.mail.example.net 3600 3 1 1 ${digest('three')}`, `_25._tcp.mail.example.net 3600 3 1 1 ${digest('two')}`].sort());
  });

  it('BIND style: removes records written relative to a changed $ORIGIN and in generic form', () => {
    const text = read('bind-example.org.db');
    const parsed = parseZone(text, 'example.org');
    const gone = tlsaRecordsAt(parsed, ['_25._tcp.mx1.example.org', '_25._tcp.mx2.example.org']).filter((r) => r.line === 21 || r.type === 'TYPE52');
    expect(gone).toHaveLength(2);
    const out = editZone(text, parsed, { remove: gone, add: [tlsa('_25._tcp.mx2.example.org', digest('x'), 300)], serial: 2023123200 });
    expect(checkzone('example.org', out).status).toBe(0);
    expect(bindTlsa('example.org', out)).toEqual(
      [
        `_25._tcp.mx1.example.org 300 3 0 1 ${digest('foo\n')}`,
        `_25._tcp.mx2.example.org 300 3 1 1 ${digest('x')}`,
        `_443._tcp.mx2.example.org 300 255 1 1 ${digest('bar')}`,
      ].sort(),
    );
    // Only those two entries and the serial changed.
    const lines = text.split('\n');
    const kept = lines.filter((_, i) => !(i >= 20 && i <= 22) && i !== 25).join('\n').replace('2023123199', '2023123200');
    expect(out).toBe(`${kept}_25._tcp.mx2.example.org.\t300\tIN\tTLSA\t3 1 1 ${digest('x')}\n`);
  });

  it('$INCLUDE: records from includes are read-only; main-file ones can go', () => {
    const text = read('include-example.info.db');
    const includes = ['include-example.info.tlsa', 'include-example.info.sub'];
    const parsed = parseZone(text, 'example.info', { readInclude: reader });
    const [included, , own] = tlsaRecordsAt(parsed, ['_25._tcp.mail.example.info', '_465._tcp.mail.example.info']);
    expect(included!.file).toBe('include-example.info.tlsa');
    let err: unknown;
    try {
      editZone(text, parsed, { remove: [included!], add: [], serial: 2024030502 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ZoneEditError);
    expect((err as ZoneEditError).problem).toMatchObject({ code: 'zone-edit-refused' });
    expect((err as ZoneEditError).message).toMatch(/\$INCLUDE file include-example\.info\.tlsa/);

    const out = editZone(text, parsed, { remove: [own!], add: [], serial: 2024030502 });
    expect(out).toBe(text.replace(/_25\._tcp\.mail\tIN\tTLSA\t3 1 1 [0-9a-f]+\n/, '').replace('2024030501', '2024030502'));
    expect(checkzone('example.info', out, includes).status).toBe(0);
    expect(bindTlsa('example.info', out, includes)).toEqual([
      `_25._tcp.mail.example.info 600 3 1 1 ${digest('one')}`,
      `_465._tcp.mail.example.info 3600 3 1 1 ${digest('one')}`,
    ]);
  });
});

describe('edits that would silently change other records are refused', () => {
  const head = '$ORIGIN example.com.\n@ 3600 IN SOA ns1 h 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n';
  const a = digest('a');
  const b = digest('b');

  it('a following record with a blank owner', () => {
    const text = `${head}_25._tcp.mx 300 IN TLSA 3 1 1 ${a}\n\t300 IN TLSA 3 1 1 ${b}\nmx 300 IN A 192.0.2.2\n`;
    const parsed = parseZone(text, 'example.com');
    const [first, second] = tlsaRecordsAt(parsed, ['_25._tcp.mx.example.com']);
    expect(() => editZone(text, parsed, { remove: [first!], add: [], serial: 2 })).toThrow(/no owner name of its own/);
    // Removing the one with the blank owner, or both, is fine.
    expect(editZone(text, parsed, { remove: [second!], add: [], serial: 2 })).toBe(text.replace(`\t300 IN TLSA 3 1 1 ${b}\n`, '').replace(' 1 3600', ' 2 3600'));
    const both = editZone(text, parsed, { remove: [first!, second!], add: [], serial: 2 });
    expect(checkzone('example.com', both).status).toBe(0);
  });

  it('a following record that takes its TTL from the one above (no $TTL)', () => {
    const text = `${head}_25._tcp.mx 300 IN TLSA 3 1 1 ${a}\nmx IN A 192.0.2.2\n`;
    const parsed = parseZone(text, 'example.com');
    expect(recordsAt(parsed, 'mx.example.com', 'A')[0]).toMatchObject({ ttl: 300, ttlSource: 'previous' });
    const [t] = tlsaRecordsAt(parsed, ['_25._tcp.mx.example.com']);
    let err: unknown;
    try {
      editZone(text, parsed, { remove: [t!], add: [], serial: 2 });
    } catch (e) {
      err = e;
    }
    expect((err as ZoneEditError).problem.code).toBe('zone-edit-refused');
    expect((err as ZoneEditError).message).toMatch(/change the TTL/);
  });
});

describe('formatTlsaLine', () => {
  const hex = digest('k');

  it('writes relative owners inside the origin, @ at the apex, absolute outside', () => {
    expect(formatTlsaLine(tlsa('_25._tcp.Mail.Example.com.', hex.toUpperCase()), 'example.com')).toBe(`_25._tcp.mail\t3600\tIN\tTLSA\t3 1 1 ${hex}`);
    expect(formatTlsaLine(tlsa('example.com', hex), 'example.com')).toBe(`@\t3600\tIN\tTLSA\t3 1 1 ${hex}`);
    expect(formatTlsaLine(tlsa('_25._tcp.mail.example.net', hex), 'example.com')).toBe(`_25._tcp.mail.example.net.\t3600\tIN\tTLSA\t3 1 1 ${hex}`);
    expect(formatTlsaLine(tlsa('_25._tcp.mail.example.net', hex), '')).toBe(`_25._tcp.mail.example.net.\t3600\tIN\tTLSA\t3 1 1 ${hex}`);
  });

  it('produces lines BIND loads as intended', () => {
    const lines = [
      formatTlsaLine(tlsa('_25._tcp.mail.example.com', hex), 'example.com'),
      formatTlsaLine({ owner: '_465._tcp.mail.example.com', ttl: 0, usage: 2, selector: 0, matchingType: 0, data: 'ab' }, 'example.com'),
    ];
    const text = `$TTL 60\n@ IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n${lines.join('\n')}\n`;
    expect(bindTlsa('example.com', text)).toEqual([`_25._tcp.mail.example.com 3600 3 1 1 ${hex}`, '_465._tcp.mail.example.com 0 2 0 0 ab']);
  });
});

describe('hostile input never reaches the zone text', () => {
  const hex = digest('h');
  const base = tlsa('_25._tcp.mail.example.com', hex);
  const bad: [string, Partial<Record<keyof TlsaRecord, unknown>>][] = [
    ['newline in owner', { owner: '_25._tcp.mail.example.com\n$INCLUDE /etc/shadow' }],
    ['CR LF in owner', { owner: 'x.example.com\r\nevil IN A 192.0.2.66' }],
    ['$INCLUDE as owner', { owner: '$INCLUDE' }],
    ['semicolon', { owner: '_25._tcp.mail;x.example.com' }],
    ['quote', { owner: '_25._tcp."mail".example.com' }],
    ['space', { owner: '_25._tcp.mail example.com' }],
    ['parenthesis', { owner: '_25._tcp.(mail.example.com' }],
    ['backslash', { owner: '_25._tcp.mail\\032.example.com' }],
    ['label over 63', { owner: `${'a'.repeat(64)}.example.com` }],
    ['empty owner', { owner: '' }],
    ['@ owner', { owner: '@' }],
    ['non-string owner', { owner: 42 }],
    ['usage 4', { usage: 4 }],
    ['usage as string', { usage: '3' }],
    ['usage fraction', { usage: 1.5 }],
    ['selector 2', { selector: 2 }],
    ['matching type 3', { matchingType: 3 }],
    ['data not hex', { data: 'zz'.repeat(32) }],
    ['data odd length', { data: 'abc' }],
    ['data with newline', { data: `${hex.slice(0, 32)}\n${hex.slice(32)}` }],
    ['data with ; comment', { data: `${hex};` }],
    ['data wrong length for SHA-256', { data: hex.slice(0, 62) }],
    ['empty data', { data: '' }],
    ['ttl negative', { ttl: -1 }],
    ['ttl too big', { ttl: 2147483648 }],
    ['ttl fraction', { ttl: 1.5 }],
    ['ttl NaN', { ttl: Number.NaN }],
    ['ttl string', { ttl: '3600\n$INCLUDE x' }],
  ];
  const text = read('cpanel-example.com.db');
  const parsed = parseZone(text, 'example.com');

  for (const [what, change] of bad) {
    it(what, () => {
      const r = { ...base, ...change } as TlsaRecord;
      let err: unknown;
      try {
        formatTlsaLine(r, 'example.com');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ZoneEditError);
      expect((err as ZoneEditError).problem.code).toBe('tlsa-record-invalid');
      expect(() => editZone(text, parsed, { remove: [], add: [r], serial: 2024010102 })).toThrow(ZoneEditError);
      // The error text itself is one printable line.
      expect((err as ZoneEditError).message).not.toMatch(/[\r\n]/);
    });
  }

  it('rejects a hostile origin too', () => {
    expect(() => formatTlsaLine(base, 'example.com\n$INCLUDE /etc/passwd')).toThrow(ZoneEditError);
  });
});
