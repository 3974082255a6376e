// The cases of the torture suite, in the order. run.ts runs them at full scale, torture.test.ts at
// the short one.

import type { Ctx, Figures } from './lib.js';
import { caseBadInput } from './badinput.js';
import { caseDiskFull } from './diskfull.js';
import { caseFaults, caseZombie } from './faults.js';
import { caseLedger, caseRacing, caseStorm } from './load.js';
import { caseDependents, caseQueueLimit, caseScheduleSlots } from './organize.js';
import { caseSecurity } from './security.js';
import { caseShared, caseSharedSsh } from './shared.js';
import { caseClock, caseWatcher } from './timing.js';

export interface Case {
  id: string;
  key: string;
  title: string;
  run: (ctx: Ctx) => Promise<Figures>;
}

export const CASES: Case[] = [
  { id: '1', key: 'ledger', title: 'Ledger: every id completed once, except where a kill landed mid-run', run: caseLedger },
  { id: '2', key: 'storm', title: 'Kill -9 storm: 4 worker processes, one killed every ~300 ms and restarted', run: caseStorm },
  { id: '3', key: 'faults', title: 'Kill at every step: a fault point per move; a fresh worker finishes the job', run: (ctx) => caseFaults(ctx) },
  { id: '4', key: 'zombie', title: 'Zombie: SIGSTOP past stale-after, job finished elsewhere, SIGCONT: outcome refused', run: caseZombie },
  { id: '5', key: 'racing', title: 'Racing: many worker processes on one queue, every job runs once', run: caseRacing },
  { id: '6', key: 'disk-full', title: 'Disk full: a root on a 2MB tmpfs', run: caseDiskFull },
  { id: '7', key: 'watcher-loss', title: 'Watcher loss: file events off (--poll), every job runs within one rescan interval', run: caseWatcher },
  { id: '8', key: 'bad-input', title: 'Bad input corpus: through the CLI and dropped as files into pending/', run: caseBadInput },
  { id: '9', key: 'clock', title: 'Clock: future jobs never early, far past and far future, a step back (simulated)', run: caseClock },
  { id: '10', key: 'shared-fs', title: 'Shared filesystem: one folder mounted twice (bindfs), two hosts (unshare -u), one killed', run: caseShared },
  { id: '11', key: 'shared-sshfs', title: 'Shared filesystem over sshfs: one folder mounted twice from an sshd on 127.0.0.1, two hosts (UTS + PID namespaces), one crashed', run: caseSharedSsh },
  { id: '12', key: 'queue-limit', title: 'Queue limit: a queue limited to 2, three worker processes killed at random: never more than 2 at once', run: caseQueueLimit },
  { id: '13', key: 'dependents', title: 'Dependencies: trees of jobs under a kill -9 storm: no job starts before its dependencies completed', run: caseDependents },
  { id: '14', key: 'schedule', title: 'Schedule: a slot a second, three workers, one frozen past stale-after: no slot twice, none skipped', run: caseScheduleSlots },
  { id: 'sec', key: 'security', title: 'Security: modes under umask 000, unsafe roots refused, no escape from the root, env values hidden', run: caseSecurity },
];
