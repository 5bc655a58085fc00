// npm run gen:docs: regenerates docs/api.md from crds/*.yaml.
import { writeFileSync } from 'node:fs';

import { CRDS_DIR, readCrds } from '../api/crd-files.js';
import { renderApiReference } from './api-reference.js';
import { API_REFERENCE_FILE } from './doc-files.js';

const crds = readCrds();
if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${CRDS_DIR}`);
writeFileSync(API_REFERENCE_FILE, renderApiReference(crds));
console.log(`wrote ${API_REFERENCE_FILE} from ${crds.map((c) => c.spec.names.kind).join(', ')}`);
