import { Router, type Response } from 'express';
import { problem, ProblemError } from '../../problem.js';
import { jobJson } from '../jobs.js';
import { domainParam, formList, formString } from '../params.js';
import { startCheckJob, startDnssecEnableJob, startPublishJob, startRescanJob } from '../services.js';
import { actor, dataFor, h, redirect, render, type RouteDeps } from './common.js';
import { isRoot } from '../access.js';
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
  const knownDomains = async (raw: unknown, res: Response): Promise<string[]> => {
    const d = await dataFor(deps, res);
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
      const [name] = await knownDomains(domain, res);
      if (action === 'takeover') {
        // Only owners the current plan shows foreign records at, for this domain's MX hosts here: never what the form says.
        const owners = foreignOwners(await dataFor(deps, res), name!);
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
        const d = await dataFor(deps, res);
        const zones = [...new Set((await knownDomains(req.body?.domain, res)).map((n) => d.byDomain.get(n)?.zone ?? n))];
        // Nothing ticked is a slip, not an error: back to the list, which says what to do.
        if (zones.length === 0) return redirect(res, '/domains', { notice: 'none-selected' });
        const job = startDnssecEnableJob(deps, zones, actor(res));
        return redirect(res, `/jobs/${job.id}`);
      }
      if (action !== 'publish' && action !== 'check') throw new ProblemError(problem('bad-request', 'Choose "Check" or "Publish".'));
      const all = formString(req.body?.all) === '1';
      // "All" is everything for root, the reseller's own domains for a reseller.
      const domains = all ? (isRoot(res) ? undefined : (await dataFor(deps, res)).rows.map((row) => row.domain)) : await knownDomains(req.body?.domain, res);
      if (domains && domains.length === 0) return redirect(res, '/domains', { notice: 'none-selected' });
      const job = start(action, domains, actor(res));
      redirect(res, `/jobs/${job.id}`);
    }),
  );

  r.post('/rescan', (_req, res) => {
    const job = startRescanJob(deps, actor(res));
    redirect(res, `/jobs/${job.id}`);
  });

  // A reseller sees the jobs it started, root every job; another's job id answers like an unknown one.
  const jobOf = (id: string, res: Response) => {
    const job = jobs.get(id);
    return job && (isRoot(res) || job.actor === actor(res)) ? job : undefined;
  };
  r.get('/jobs', (_req, res) => render(res, 'jobs', 'Jobs', 'jobs', { list: jobs.list().filter((j) => isRoot(res) || j.actor === actor(res)) }));
  r.get(
    '/jobs/:id',
    h(async (req, res) => {
      const job = jobOf(String(req.params.id), res);
      if (!job) throw new ProblemError(problem('not-found', 'That job is not known (jobs are kept until the service restarts).'));
      render(res, 'job', job.label, 'jobs', { job, snap: isRoot(res) ? snapshot.current() : await dataFor(deps, res) });
    }),
  );
  r.get('/api/jobs/:id', (req, res) => {
    const job = jobOf(String(req.params.id), res);
    if (!job) return void res.status(404).json({ error: 'no such job' });
    res.json(jobJson(job));
  });

  return r;
}
