// Writes V8's code cache of the generated validators beside their copy in dist/ (see
// src/config/validators.ts), after running them on the bundled examples, so that the functions a
// usual inventory reaches are in the cache already compiled. Run by `npm run build`, after tsc and
// copy-assets; the cache is only ever an optimisation, so a node that refuses it compiles as before.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { writeValidatorsCache } from '../dist/src/config/validators.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(root, 'examples');
const documents = readdirSync(examples, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => ({ settings: f.endsWith('corral.yml'), value: parse(readFileSync(join(examples, f), 'utf8')) }));
writeValidatorsCache((v) => {
  for (const d of documents) (d.settings ? v.validateSettings : v.validateInventory)(d.value);
});
