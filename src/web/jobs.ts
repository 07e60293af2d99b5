import { randomBytes } from 'node:crypto';
import { toProblem, type Problem } from '../problem.js';

export type JobKind = 'check' | 'publish' | 'rescan' | 'dnssec-enable';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Job {
  id: string;
  kind: JobKind;
  /** What it is about, for people ("Publish 3 domains"). */
  label: string;
  actor: string;
  status: JobStatus;
  done: number;
  total: number;
  /** What `done`/`total` count ("zones", "domains"): the page says "3 / 15 zones". */
  unit: string;
  createdAt: string;
  finishedAt: string | null;
  summary: string;
  problems: Problem[];
  /** Domains the job was for (empty: all). */
  domains: string[];
  /** Domains whose records the job changed (a publish): the page links each to its fresh result. */
  changed: string[];
}

export interface JobOutcome {
  summary: string;
  problems?: Problem[];
  changed?: string[];
}

export type JobBody = (progress: (done: number, total: number, unit?: string) => void) => Promise<JobOutcome>;

const KEEP = 50;

/**
 * Long jobs run in the server process, one at a time (publishing two plans at once could race on
 * the same zone), and are kept in memory so a page reload finds its job again.
 */
export class JobRegistry {
  private readonly jobs = new Map<string, Job>();
  private tail: Promise<void> = Promise.resolve();

  start(kind: JobKind, label: string, actor: string, domains: string[], body: JobBody): Job {
    const job: Job = {
      id: randomBytes(8).toString('hex'),
      kind,
      label,
      actor,
      status: 'queued',
      done: 0,
      total: 0,
      unit: '',
      createdAt: new Date().toISOString(),
      finishedAt: null,
      summary: '',
      problems: [],
      domains,
      changed: [],
    };
    this.jobs.set(job.id, job);
    this.prune();
    this.tail = this.tail.then(() => this.run(job, body));
    return job;
  }

  private async run(job: Job, body: JobBody): Promise<void> {
    job.status = 'running';
    try {
      const out = await body((done, total, unit) => {
        job.done = done;
        job.total = total;
        if (unit !== undefined) job.unit = unit;
      });
      job.summary = out.summary;
      job.changed = out.changed ?? [];
      job.problems = out.problems ?? [];
      job.status = 'done';
    } catch (err) {
      const p = toProblem(err, 'job-failed');
      job.summary = p.message;
      job.problems = [p];
      job.status = 'failed';
    }
    job.finishedAt = new Date().toISOString();
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Newest first. */
  list(): Job[] {
    return [...this.jobs.values()].reverse();
  }

  active(): Job[] {
    return this.list().filter((j) => j.status === 'queued' || j.status === 'running');
  }

  /** Resolves when every job started so far has finished (tests, graceful shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.finishedAt);
    for (const j of finished.slice(0, Math.max(0, this.jobs.size - KEEP))) this.jobs.delete(j.id);
  }
}

/** The JSON a progress poller needs; never includes anything secret. */
export function jobJson(j: Job) {
  return { id: j.id, kind: j.kind, label: j.label, status: j.status, done: j.done, total: j.total, unit: j.unit, summary: j.summary, problems: j.problems, finishedAt: j.finishedAt };
}
