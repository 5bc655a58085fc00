// npm run gen:api: regenerates src/api/types.gen.ts from crds/*.yaml.
import { writeFileSync } from 'node:fs';

import { generateTypes } from './codegen.js';
import { CRDS_DIR, readCrds, TYPES_FILE } from './crd-files.js';

const crds = readCrds();
if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${CRDS_DIR}`);
writeFileSync(TYPES_FILE, generateTypes(crds));
console.log(`wrote ${TYPES_FILE} from ${crds.map((c) => c.spec.names.kind).join(', ')}`);
