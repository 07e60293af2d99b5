import { Router } from 'express';
import { auditCsv } from '../../report/audit.js';
import type { SnapshotData } from '../snapshot.js';
import { dataFor, h, type RouteDeps } from './common.js';

/** The audit export: the same rows and columns as `tlsa-manager audit`. */
export function exportRouter(deps: RouteDeps): Router {
  const r = Router();
  r.get(
    '/export/audit.csv',
    h(async (_req, res) => {
      const d = await dataFor(deps, res);
      res.type('text/csv; charset=utf-8').attachment('tlsa-audit.csv').send(auditCsv(d.rows.map(auditOnly)));
    }),
  );
  r.get(
    '/export/audit.json',
    h(async (_req, res) => {
      const d = await dataFor(deps, res);
      res.attachment('tlsa-audit.json').type('application/json').send(JSON.stringify(d.rows.map(auditOnly), null, 2));
    }),
  );
  return r;
}

/** Drop the list page's extra fields. */
function auditOnly(row: SnapshotData['rows'][number]) {
  const { haystack: _h, sts: _s, ...rest } = row;
  return rest;
}
