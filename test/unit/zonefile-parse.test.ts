import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressesAt, cnameTarget, mxTargets, parseZone, recordsAt, tlsaRecordsAt, ZoneSyntaxError, type ParsedZone } from '../../src/zonefile/index.js';
import { VALID, ZONE_FIXTURES } from './zonefile-fixtures.js';

const DIR = ZONE_FIXTURES;
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const parse = (f: string, zone: string, dir = DIR): ParsedZone =>
  parseZone(readFileSync(join(dir, f), 'utf8'), zone, { readInclude: (p) => readFileSync(join(dir, p), 'utf8') });

/** Digests computed by openssl, not by us: the fixtures hold sha256("one"), sha256("two"), sha512("three"). */
const digest = (alg: 'sha256' | 'sha512', s: string) => execFileSync('openssl', ['dgst', `-${alg}`, '-r'], { input: s }).toString().split(' ')[0]!;


/** BIND prints `\.`-style escapes; ours are `\DDD`. Convert BIND's so both sides are comparable. */
function bindName(s: string): string {
  return s.replace(/\.$/, '').toLowerCase().replace(/\\([^0-9])/g, (_m, c: string) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`);
}

describe('parseZone agrees with BIND (named-compilezone) on every valid fixture', () => {
  for (const [file, zone] of VALID) {
    it(`${file}: same owners, TTLs and types`, () => {
      const out = execFileSync('named-compilezone', ['-q', '-k', 'ignore', '-i', 'none', '-w', DIR, '-o', '-', zone, join(DIR, file)]).toString();
      const theirs = out
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/))
        .map(([owner, ttl, , type]) => `${bindName(owner!)} ${ttl} ${type}`)
        .sort();
      const parsed = parse(file, zone);
      const typeName = (t: string) => ({ TYPE1: 'A', TYPE5: 'CNAME', TYPE15: 'MX', TYPE28: 'AAAA', TYPE52: 'TLSA' })[t] ?? t;
      const ours = parsed.records.map((r) => `${r.owner} ${r.ttl} ${typeName(r.type)}`).sort();
      expect(ours).toEqual(theirs);
    });
  }
});

describe('cPanel zone', () => {
  const z = parse('cpanel-example.com.db', 'example.com');

  it('reads the SOA serial and where its token is', () => {
    const text = read('cpanel-example.com.db');
    expect(z.soa?.serial).toBe(2024010101);
    expect(text.slice(z.soa!.start, z.soa!.end)).toBe('2024010101');
    expect(z.origin).toBe('example.com');
    expect(z.lineEnding).toBe('\n');
  });

  it('collapses the multi-line SOA into one rdata string without comments', () => {
    const soa = z.records.find((r) => r.type === 'SOA')!;
    expect(soa.rdata).toBe('ns1.example.net. admin.example.net. 2024010101 3600 1800 1209600 86400');
    expect(soa.line).toBe(4);
    expect(soa.ttl).toBe(86400);
  });

  it('resolves relative owners and record offsets cover whole lines', () => {
    const text = read('cpanel-example.com.db');
    const mail = z.records.find((r) => r.owner === 'mail.example.com')!;
    expect(mail.type).toBe('CNAME');
    expect(text.slice(mail.start, mail.end)).toBe('mail\t14400\tIN\tCNAME\texample.com.\n');
    expect(mail.line).toBe(text.slice(0, mail.start).split('\n').length);
  });

  it('keeps ; and escaped quotes inside TXT strings', () => {
    expect(recordsAt(z, 'default._domainkey.example.com', 'TXT')[0]!.rdata).toBe('"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx" "tail;part"');
    expect(recordsAt(z, '_dmarc.example.com', 'TXT')[0]!.rdata).toBe('"v=DMARC1\\; p=none; rua=\\"mailto:d@example.com\\""');
  });

  it('gives MX targets absolute, including relative ones', () => {
    expect(mxTargets(z, 'example.com')).toEqual([{ preference: 0, host: 'example.com' }]);
    expect(mxTargets(z, 'Shop.Example.COM.')).toEqual([{ preference: 10, host: 'mail.shop.example.com' }]);
    expect(mxTargets(z, 'nothing.example.com')).toEqual([]);
    expect(cnameTarget(z, 'mail.example.com')).toBe('example.com');
    expect(addressesAt(z, 'example.com')).toEqual(['192.0.2.10', '2001:db8::10']);
  });

  it('decodes TLSA records with openssl-computed digests', () => {
    const t = tlsaRecordsAt(z, ['_25._tcp.example.com.']);
    expect(t.map((r) => [r.usage, r.selector, r.matchingType, r.data])).toEqual([
      [3, 1, 1, digest('sha256', 'one')],
      [3, 1, 1, digest('sha256', 'two')],
      [2, 1, 2, digest('sha512', 'three')],
    ]);
    expect(t.every((r) => r.owner === '_25._tcp.example.com' && r.ttl === 3600 && r.file === undefined)).toBe(true);
  });
});

describe('BIND-style zone', () => {
  const z = parse('bind-example.org.db', 'example.org');
  const at = (owner: string, type: string) => recordsAt(z, owner, type);

  it('applies BIND TTL rules: SOA minimum as default, explicit TTLs in either order with the class, units', () => {
    expect(at('example.org', 'SOA')[0]).toMatchObject({ ttl: 300, ttlSource: 'soa-minimum' });
    expect(at('example.org', 'NS').map((r) => [r.ttl, r.ttlSource, r.ownerInherited])).toEqual([
      [300, 'default', true],
      [300, 'default', true],
    ]);
    expect(at('ns1.example.org', 'A')[0]).toMatchObject({ ttl: 3600, ttlSource: 'explicit' });
    expect(at('example.org', 'MX').map((r) => r.ttl)).toEqual([7200, 7200]);
    expect(at('example.org', 'A')[0]).toMatchObject({ ttl: 300, ownerInherited: true, rdata: '198.51.100.2' });
    expect(at('mx2.example.org', 'AAAA')[0]).toMatchObject({ ttl: 300, ownerInherited: true });
  });

  it('follows $ORIGIN changes, including a relative $ORIGIN', () => {
    expect(at('_25._tcp.mx1.example.org', 'TLSA').map((r) => r.origin)).toEqual(['_tcp.mx1.example.org', '_tcp.mx1.example.org']);
    expect(mxTargets(z, 'example.org')).toEqual([
      { preference: 10, host: 'mx1.example.org' },
      { preference: 20, host: 'mx2.example.org' },
    ]);
  });

  it('joins TLSA hex split over lines in parentheses', () => {
    const t = tlsaRecordsAt(z, ['_25._tcp.mx1.example.org']);
    expect(t[0]!.data).toBe(digest('sha256', 'test'));
    expect(t[0]!.line).toBe(21);
    expect(t[1]).toMatchObject({ usage: 3, selector: 0, matchingType: 1, ttl: 300, data: digest('sha256', 'foo\n') });
  });

  it('reads TYPE52 generic RDATA as TLSA and leaves private-use parameters out', () => {
    const t = tlsaRecordsAt(z, ['_25._tcp.mx2.example.org', '_443._tcp.mx2.example.org']);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ type: 'TYPE52', usage: 3, selector: 1, matchingType: 1, data: digest('sha256', 'foo') });
    expect(recordsAt(z, '_443._tcp.mx2.example.org', 'TLSA')).toHaveLength(1);
  });

  it('decodes \\DDD escapes in names and keeps special bytes escaped', () => {
    expect(at('_esc.example.org', 'A')[0]!.rdata).toBe('198.51.100.10');
    expect(at('weird\\046label\\032x.example.org', 'A')[0]!.rdata).toBe('198.51.100.9');
  });

  it('keeps quoted strings whole and drops the trailing comment', () => {
    expect(at('txt.example.org', 'TXT')[0]!.rdata).toBe('"semi;colon (paren)" "quote \\" here" plain');
  });
});

describe('CRLF zone', () => {
  const text = read('crlf-example.net.db');
  const z = parseZone(text, 'example.net');

  it('detects CRLF and spans records including the CR LF', () => {
    expect(text.includes('\r\n')).toBe(true);
    expect(z.lineEnding).toBe('\r\n');
    const ns1 = z.records.find((r) => r.owner === 'ns1.example.net')!;
    expect(text.slice(ns1.start, ns1.end)).toBe('ns1\tIN\tA\t192.0.2.53\r\n');
    expect(ns1.rdata).toBe('192.0.2.53');
  });

  it('reads the multi-line TLSA and the last line without a newline', () => {
    expect(tlsaRecordsAt(z, ['_25._tcp.mail.example.net']).map((r) => r.data)).toEqual([digest('sha256', 'one'), digest('sha256', 'two')]);
    const last = z.records.at(-1)!;
    expect(last.owner).toBe('last-line-has-no-newline.example.net');
    expect(last.end).toBe(text.length);
    expect(recordsAt(z, 'txt.example.net', 'TXT')[0]!.rdata).toBe('"crlf ; inside quotes"');
  });
});

describe('$INCLUDE', () => {
  const z = parse('include-example.info.db', 'example.info');

  it('reads included files with their origin and marks their records', () => {
    expect(z.includes).toEqual(['include-example.info.tlsa', 'include-example.info.sub']);
    const t = tlsaRecordsAt(z, ['_25._tcp.mail.example.info', '_465._tcp.mail.example.info']);
    expect(t.map((r) => [r.owner, r.file ?? null, r.line, r.ttl])).toEqual([
      ['_25._tcp.mail.example.info', 'include-example.info.tlsa', 2, 600],
      ['_465._tcp.mail.example.info', 'include-example.info.tlsa', 3, 3600],
      ['_25._tcp.mail.example.info', null, 11, 600],
    ]);
    expect(mxTargets(z, 'sub.example.info')).toEqual([{ preference: 5, host: 'mx.sub.sub.example.info' }]);
  });

  it('restores the origin and the previous owner after an include, keeps $TTL changes', () => {
    expect(recordsAt(z, 'changed.other.example.info', 'A')).toHaveLength(1);
    const txt = recordsAt(z, 'www.example.info', 'TXT')[0]!;
    expect(txt).toMatchObject({ ttl: 600, ownerInherited: true, line: 10 });
    expect(txt.file).toBeUndefined();
  });

  it('refuses an $INCLUDE without a reader, and wraps reader failures with the line', () => {
    expect(() => parseZone(read('include-example.info.db'), 'example.info')).toThrow(/no include reader/);
    try {
      parseZone(read('include-example.info.db'), 'example.info', { readInclude: () => { throw new Error('ENOENT'); } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ZoneSyntaxError);
      expect((err as ZoneSyntaxError).line).toBe(7);
      expect((err as ZoneSyntaxError).reason).toBe('$INCLUDE include-example.info.tlsa ENOENT');
    }
  });
});

describe('generic and unknown types', () => {
  const z = parse('unknown-types-example.com.db', 'example.com');

  it('keeps every record, decodes generic A/AAAA/MX/CNAME', () => {
    expect(z.records).toHaveLength(19);
    expect(addressesAt(z, 'mx.example.com')).toEqual(['192.0.2.2', '2001:db8::2']);
    expect(mxTargets(z, 'mx2.example.com')).toEqual([{ preference: 20, host: 'mx3.example.com' }]);
    expect(cnameTarget(z, 'alias.example.com')).toBe('nothing---.xyz');
    expect(recordsAt(z, 'example.com', 'TYPE65534')[0]!.rdata).toBe('\\# 5 0d1234ab01');
    expect(recordsAt(z, 'empty.example.com', 'TYPE4242')[0]!.rdata).toBe('\\# 0');
    expect(recordsAt(z, 'example.com', 'HTTPS')[0]!.rdata).toBe('1 . alpn="h3,h2" port=443');
  });
});

/** One broken file per error class; named-checkzone must reject it too unless marked. */
const BROKEN: { file: string; line: number; match: RegExp; inFile?: string; namedAccepts?: true }[] = [
  { file: 'unclosed-paren.db', line: 5, match: /"\(" opened on line 5 is never closed/ },
  { file: 'extra-close-paren.db', line: 5, match: /"\)" without a matching "\("/ },
  { file: 'unclosed-quote.db', line: 5, match: /quoted string is not closed/ },
  { file: 'backslash-eol.db', line: 5, match: /backslash at the end of a line/ },
  { file: 'not-a-type.db', line: 5, match: /"F\$O" is not a record type/ },
  { file: 'unknown-directive.db', line: 5, match: /unknown directive \$FOO/ },
  { file: 'bad-ttl.db', line: 5, match: /"1x" is not a TTL/ },
  { file: 'class-mismatch.db', line: 5, match: /class CH does not match/ },
  { file: 'no-previous-owner.db', line: 2, match: /no owner name/ },
  { file: 'no-ttl.db', line: 1, match: /no TTL/ },
  { file: 'bad-tlsa-hex.db', line: 5, match: /odd number of digits/ },
  { file: 'bad-tlsa-field.db', line: 5, match: /matching type must be a number/ },
  { file: 'bad-generic-length.db', line: 5, match: /says 4 octets but 3 are given/ },
  { file: 'bad-a.db', line: 5, match: /not an IPv4 address/ },
  { file: 'missing-rdata.db', line: 5, match: /has no data/ },
  { file: 'mx-preference.db', line: 5, match: /MX preference "70000"/ },
  { file: 'second-soa.db', line: 5, match: /second SOA/ },
  { file: 'soa-not-apex.db', line: 5, match: /not at the zone apex/ },
  { file: 'long-label.db', line: 5, match: /longer than 63/ },
  { file: 'empty-label.db', line: 5, match: /empty label/ },
  { file: 'include-loop.db', line: 2, inFile: 'include-loop.inc', match: /nests deeper than 8 levels/ },
  { file: 'generate-bad-range.db', line: 5, match: /\$GENERATE the range starts after it ends/ },
  { file: 'generate-two-rhs.db', line: 5, match: /\$GENERATE takes exactly one data template/ },
  { file: 'ttl-over-32-bits.db', line: 5, match: /does not fit in 32 bits/ },
];

describe('broken zone files raise ZoneSyntaxError with the line', () => {
  const dir = join(DIR, 'broken');
  for (const b of BROKEN) {
    it(b.file, () => {
      let caught: unknown;
      try {
        parse(b.file, 'example.com', dir);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ZoneSyntaxError);
      const e = caught as ZoneSyntaxError;
      expect(e.message).toMatch(b.match);
      expect(e.line).toBe(b.line);
      expect(e.file).toBe(b.inFile);
      expect(e.problem.code).toBe('zone-syntax');
      expect(e.problem.message).toContain(`line ${b.line}`);
      const named = spawnSync('named-checkzone', ['-i', 'local', '-w', dir, 'example.com', join(dir, b.file)]);
      expect(named.status).toBe(b.namedAccepts ? 0 : 1);
    });
  }
});

describe('parser edge cases', () => {
  const head = '$TTL 60\n@ IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n';

  it('accepts lower-case class/type, CLASS1, TTL after class, and absolute origin argument', () => {
    const z = parseZone(`${head}a in 1h a 192.0.2.2\nb CLASS1 type52 3 1 1 ab\n`, 'Example.COM.');
    expect(z.origin).toBe('example.com');
    expect(recordsAt(z, 'a.example.com', 'A')[0]).toMatchObject({ ttl: 3600, type: 'A' });
    expect(recordsAt(z, 'b.example.com', 'TLSA')[0]).toMatchObject({ type: 'TYPE52', rdata: '3 1 1 ab' });
  });

  it('treats ( and ) as separators, even inside tokens, and a comment inside parentheses', () => {
    const z = parseZone(`${head}t IN TXT ("a" ; c\n "b")\n`, 'example.com');
    expect(recordsAt(z, 't.example.com', 'TXT')[0]!.rdata).toBe('"a" "b"');
  });

  it('reads a quoted owner as BIND does (the text between the quotes), rejects an empty one and a non-IN class written as CLASS3', () => {
    const z = parseZone(`${head}"q" IN A 192.0.2.9\n"a b" IN A 192.0.2.10\n"@" IN TXT "apex"\n`, 'example.com');
    expect(recordsAt(z, 'q.example.com', 'A')).toHaveLength(1);
    expect(recordsAt(z, 'a\\032b.example.com', 'A')).toHaveLength(1);
    expect(recordsAt(z, 'example.com', 'TXT')).toHaveLength(1);
    expect(() => parseZone(`${head}"" IN A 192.0.2.9\n`, 'example.com')).toThrow(ZoneSyntaxError);
    expect(() => parseZone(`${head}q CLASS3 A 192.0.2.9\n`, 'example.com')).toThrow(/class CLASS3/);
  });

  it('rejects names longer than 255 octets after appending the origin', () => {
    const long = Array.from({ length: 4 }, () => 'a'.repeat(60)).join('.');
    expect(() => parseZone(`${head}${long} IN A 192.0.2.9\n`, 'example.com')).toThrow(/longer than 255/);
  });

  it('an empty file parses to no records and no SOA', () => {
    expect(parseZone('', 'example.com')).toMatchObject({ records: [], soa: null, includes: [] });
  });
});
