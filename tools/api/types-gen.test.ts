// types.gen.ts is generated from crds/; this fails when someone edits one without the other.
import { readFileSync } from 'node:fs';

import { generateTypes } from './codegen.js';
import { readCrds, TYPES_FILE } from './crd-files.js';

test('src/api/types.gen.ts is generated from the current crds/', () => {
  const expected = generateTypes(readCrds());
  const actual = readFileSync(TYPES_FILE, 'utf8');
  if (actual !== expected) {
    const lines = [actual.split('\n'), expected.split('\n')] as const;
    const at = lines[1].findIndex((line, i) => line !== lines[0][i]);
    throw new Error(
      `src/api/types.gen.ts is out of date with crds/: run npm run gen:api\n` +
        `first difference at line ${at + 1}:\n  file:      ${lines[0][at]}\n  generated: ${lines[1][at]}`,
    );
  }
});
