import type { Problem } from '../../problem.js';
import { printable } from '../names.js';

/**
 * A zone file we cannot read exactly. `message` is the bare reason (callers prefix the path and
 * line themselves); `problem` is the full sentence for the UI. In an `$INCLUDE`d file the reason
 * is only the kind of problem: that file may be anything (a secret read as root), so none of its
 * content is ever repeated.
 */
export class ZoneSyntaxError extends Error {
  readonly line: number;
  readonly file?: string;
  readonly problem: Problem;
  constructor(message: string, line: number, file?: string, zone?: string, kind?: string) {
    super(file !== undefined ? (kind ?? 'not a zone-file line TLSA Manager can read') : message);
    this.name = 'ZoneSyntaxError';
    this.line = line;
    if (file !== undefined) this.file = file;
    const where = file !== undefined ? `$INCLUDE file ${printable(file)} line ${line}` : `line ${line}`;
    this.problem = {
      code: 'zone-syntax',
      message: `${zone !== undefined ? `Zone ${zone}, ` : ''}${where}: ${this.message}`,
      fix: 'Correct the zone file (named-checkzone reports the same place); TLSA Manager does not read or edit a zone it cannot parse exactly.',
      severity: 'error',
      ...(zone !== undefined ? { subject: zone } : {}),
    };
  }
}

/** Codes: `tlsa-record-invalid` (a record we were asked to write is unsafe), `zone-edit-refused`. */
export type ZoneEditCode = 'tlsa-record-invalid' | 'zone-edit-refused';

/** An edit we refuse to make; nothing was produced. */
export class ZoneEditError extends Error {
  readonly problem: Problem;
  constructor(code: ZoneEditCode, message: string, fix: string, subject?: string) {
    super(message);
    this.name = 'ZoneEditError';
    this.problem = { code, message, fix, severity: 'error', ...(subject !== undefined ? { subject } : {}) };
  }
}
