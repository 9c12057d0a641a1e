/**
 * What a verified delivery makes Corral do. A push to the tracked branch (or a merge into it)
 * nudges a fetch; a pull request opened or pushed to gets a preview; everything else is ignored,
 * with the reason in the answer and the log, so a webhook that "does nothing" says why.
 */
import { ANY_BRANCH, type ForgeEvent, type PullRequest } from './receivers/types.js';

export interface DispatchOptions {
  branch: string;
  nudge(): void;
  /** Undefined when previews are off (no forge to report to). */
  preview?: (pr: PullRequest) => void;
  /** Preview pull requests from forks: off by default, because a preview contacts the hosts the PR's inventory names. */
  previewForks: boolean;
}

export type Dispatched = { result: 'accepted' | 'ignored'; message: string };

export function dispatcher(o: DispatchOptions): (event: ForgeEvent) => Dispatched {
  const ignored = (message: string): Dispatched => ({ result: 'ignored', message });
  return (e) => {
    switch (e.type) {
      case 'ping':
        return ignored('ping: the webhook reaches Corral and its signature checks out');
      case 'push':
        if (e.branch !== ANY_BRANCH && e.branch !== o.branch) return ignored(`push to ${e.branch ?? 'a tag or another ref'}; Corral follows ${o.branch}`);
        if (e.deleted) return ignored(`branch ${o.branch} was deleted; the last good revision stays in force`);
        o.nudge();
        return { result: 'accepted', message: `fetching ${o.branch} now` };
      case 'pull-request': {
        const { pr } = e;
        if (pr.baseBranch !== o.branch) return ignored(`pull request #${pr.number} targets ${pr.baseBranch}; Corral follows ${o.branch}`);
        if (e.action === 'closed') {
          if (!e.mergeSha) return ignored(`pull request #${pr.number} closed without a merge`);
          o.nudge();
          return { result: 'accepted', message: `pull request #${pr.number} merged; fetching ${o.branch} now` };
        }
        if (!o.preview) return ignored('previews are off: no forge is configured to report to (corral serve --forge)');
        if (pr.fromFork && !o.previewForks) return ignored(`pull request #${pr.number} comes from a fork; previews of forks are off (--preview-forks)`);
        o.preview(pr);
        return { result: 'accepted', message: `planning pull request #${pr.number} at ${pr.headSha.slice(0, 12)}` };
      }
      default:
        return ignored(`nothing to do for ${e.why}`);
    }
  };
}
