/** Variables no module reads: a warning with a did-you-mean, or an error under `strict: true`. */
import { problem, type Problem } from '../problems.js';
import { locate } from '../source.js';
import { schemas } from '../schema.js';
import { Vocabulary } from '../../util/did-you-mean.js';
import { varsBlocks, type Check } from './context.js';

/** Past this many distinct unknown names the inventory clearly has its own variables: no more typo hunting. */
const SUGGESTIONS_LIMIT = 1000;

/** The parameters' names by length, built once: the schemas do not change while Corral runs. */
let vocabulary: Vocabulary | undefined;

export const unknownVars: Check = (ctx) => {
  const known = schemas().params;
  vocabulary ??= new Vocabulary(known.keys());
  const suggestion = new Map<string, string | undefined>();
  const severity = ctx.inventory.settings.strict ? 'error' : 'warning';
  const out: Problem[] = [];
  for (const block of varsBlocks(ctx.inventory)) {
    for (const key of Object.keys(block.vars)) {
      if (known.has(key) || key.startsWith('ansible_')) continue;
      if (!suggestion.has(key)) suggestion.set(key, suggestion.size < SUGGESTIONS_LIMIT ? vocabulary.closest(key) : undefined);
      const hint = suggestion.get(key);
      out.push(problem('vars/unknown', locate(block.file, [...block.path, key], 'key'), `unknown variable "${key}"${hint ? `; did you mean "${hint}"?` : ''}`, { severity }));
    }
  }
  return out;
};
