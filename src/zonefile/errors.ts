import { ProblemError } from '../problem.js';
import { printable } from '../dns/names.js';

/**
 * A zone file we cannot read exactly. `reason` is the bare reason (callers prefix the path and
 * line themselves); the problem's message is the full sentence for the UI. In an `$INCLUDE`d
 * file the reason is only the kind of problem: that file may be anything (a secret read as root),
 * so none of its content is ever repeated.
 */
export class ZoneSyntaxError extends ProblemError {
  readonly reason: string;
  readonly line: number;
  readonly file?: string;
  constructor(message: string, line: number, file?: string, zone?: string, kind?: string) {
    const reason = file !== undefined ? (kind ?? 'not a zone-file line TLSA Manager can read') : message;
    const where = file !== undefined ? `$INCLUDE file ${printable(file)} line ${line}` : `line ${line}`;
    super({
      code: 'zone-syntax',
      message: `${zone !== undefined ? `Zone ${zone}, ` : ''}${where}: ${reason}`,
      fix: 'Correct the zone file (named-checkzone reports the same place); TLSA Manager does not read or edit a zone it cannot parse exactly.',
      severity: 'error',
      ...(zone !== undefined ? { subject: zone } : {}),
    });
    this.name = 'ZoneSyntaxError';
    this.reason = reason;
    this.line = line;
    if (file !== undefined) this.file = file;
  }
}

/** Codes: `tlsa-record-invalid`/`tlsrpt-record-invalid` (a record we were asked to write is unsafe), `zone-edit-refused`. */
export type ZoneEditCode = 'tlsa-record-invalid' | 'tlsrpt-record-invalid' | 'mta-sts-record-invalid' | 'zone-edit-refused';

/** An edit we refuse to make; nothing was produced. */
export class ZoneEditError extends ProblemError {
  constructor(code: ZoneEditCode, message: string, fix: string, subject?: string) {
    super({ code, message, fix, severity: 'error', ...(subject !== undefined ? { subject } : {}) });
    this.name = 'ZoneEditError';
  }
}
