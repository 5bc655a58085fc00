// Where the API's source files live, and how to read them. Shared by the type generator's CLI and
// the tests that check the CRDs and the generated types, so all of them read the same files the
// same way. Paths are relative to this module, which sits at the same depth in tools/ and dist-tools/.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

import type { CustomResourceDefinition } from './codegen.js';

export const CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
export const TYPES_FILE = fileURLToPath(new URL('../../src/api/types.gen.ts', import.meta.url));

/** Every CustomResourceDefinition in crds/*.yaml, in file-name order. */
export function readCrds(dir: string = CRDS_DIR): CustomResourceDefinition[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .flatMap((file) => loadAll(readFileSync(join(dir, file), 'utf8')))
    .filter(isCrd);
}

function isCrd(doc: unknown): doc is CustomResourceDefinition {
  return (
    typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'CustomResourceDefinition'
  );
}
