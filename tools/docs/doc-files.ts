// Where the generated documentation lives. Paths are relative to this module, which sits at the same
// depth in tools/ and dist-tools/, so the CLI (from dist-tools/) and the tests (from tools/) find the
// same files.
import { fileURLToPath } from 'node:url';

export const API_REFERENCE_FILE = fileURLToPath(new URL('../../docs/api.md', import.meta.url));
