import { Router } from 'express';
import { problem, ProblemError } from '../../problem.js';
import { jobJson } from '../jobs.js';
import { domainParam, formList, formString } from '../params.js';
import { startCheckJob, startDnssecEnableJob, startPublishJob, startRescanJob } from '../services.js';
import { actor, h, redirect, render, type RouteDeps } from './common.js';
import { tlsaHost } from '../../dns/names.js';
import type { SnapshotData } from '../snapshot.js';

/** Owners of the domain's MX hosts (served here) where the plan found records TLSA Manager did not create. */
export function foreignOwners(d: SnapshotData, domain: string): string[] {
  const hosts = new Set(d.byDomain.get(domain)?.mxHere ?? []);
  return [...new Set(d.plan.zones.flatMap((z) => z.foreign.filter((f) => hosts.has(tlsaHost(f.owner))).map((f) => f.owner)))].sort();
}

/** Starting publish/check/rescan jobs and following them. */
export function jobsRouter(deps: RouteDeps): Router {
  const { snapshot, jobs } = deps;
  const r = Router();

  const start = (action: 'check' | 'publish', domains: string[] | undefined, who: string) =>
    action === 'check' ? startCheckJob(deps, domains, who) : startPublishJob(deps, domains, who);

  /** Form values → names of domains on this server; anything else is refused. */
  const knownDomains = async (raw: unknown): Promise<string[]> => {
    const d = await snapshot.get();
    const names = formList(raw).map((x) => domainParam(x));
    for (const n of names) if (!d.byDomain.has(n)) throw new ProblemError(problem('not-found', `${n} is not a domain on this server.`));
    return [...new Set(names)];
  };

  r.post(
    '/domains/:domain/:action',
    h(async (req, res) => {
      const domain = domainParam(req.params.domain);
      const action = String(req.params.action);
      if (action !== 'publish' && action !== 'check' && action !== 'takeover') throw new ProblemError(problem('not-found', 'No such action.'));
      const [name] = await knownDomains(domain);
      if (action === 'takeover') {
        // Only owners the current plan shows foreign records at, for this domain's MX hosts here: never what the form says.
        const owners = foreignOwners(await snapshot.get(), name!);
        if (owners.length === 0) throw new ProblemError(problem('bad-request', `${name} has no records of someone else to take over.`, { fix: 'Reload the domain page: the records may have been taken over or removed already.' }));
        const job = startPublishJob(deps, [name!], actor(res), owners);
        return redirect(res, `/domains/${domain}`, { job: job.id });
      }
      const job = start(action, [name!], actor(res));
      redirect(res, `/domains/${domain}`, { job: job.id });
    }),
  );

  r.post(
    '/jobs',
    h(async (req, res) => {
      const action = formString(req.body?.action);
      if (action === 'dnssec-enable') {
        // Signing is per zone: the selected domains' zones, each once.
        const d = await snapshot.get();
        const zones = [...new Set((await knownDomains(req.body?.domain)).map((n) => d.byDomain.get(n)?.zone ?? n))];
        // Nothing ticked is a slip, not an error: back to the list, which says what to do.
        if (zones.length === 0) return redirect(res, '/domains', { notice: 'none-selected' });
        const job = startDnssecEnableJob(deps, zones, actor(res));
        return redirect(res, `/jobs/${job.id}`);
      }
      if (action !== 'publish' && action !== 'check') throw new ProblemError(problem('bad-request', 'Choose "Check" or "Publish".'));
      const all = formString(req.body?.all) === '1';
      const domains = all ? undefined : await knownDomains(req.body?.domain);
      if (domains && domains.length === 0) return redirect(res, '/domains', { notice: 'none-selected' });
      const job = start(action, domains, actor(res));
      redirect(res, `/jobs/${job.id}`);
    }),
  );

  r.post('/rescan', (_req, res) => {
    const job = startRescanJob(deps, actor(res));
    redirect(res, `/jobs/${job.id}`);
  });

  r.get('/jobs', (_req, res) => render(res, 'jobs', 'Jobs', 'jobs', { list: jobs.list() }));
  r.get('/jobs/:id', (req, res, next) => {
    const job = jobs.get(String(req.params.id));
    if (!job) return next(new ProblemError(problem('not-found', 'That job is not known (jobs are kept until the service restarts).')));
    render(res, 'job', job.label, 'jobs', { job, snap: snapshot.current() });
  });
  r.get('/api/jobs/:id', (req, res) => {
    const job = jobs.get(String(req.params.id));
    if (!job) return void res.status(404).json({ error: 'no such job' });
    res.json(jobJson(job));
  });

  return r;
}
