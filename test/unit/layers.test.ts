// What the folders may import, read from the sources: k8s/ is a Kubernetes layer that knows nothing
// of modelship (its kinds and field manager are handed in), and the runtime tree src/ does not
// reach into the build tools (tools/).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

/** Every module specifier a file imports or re-exports. */
function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s(?:[^;]*?\sfrom\s+)?'([^']+)'/gms)].map((m) => m[1]!);
}

test('src/k8s imports only Node, client-node and itself', () => {
  const outside = sources('src/k8s').flatMap((f) =>
    imports(f)
      .filter((s) => !s.startsWith('node:') && s !== '@kubernetes/client-node' && !s.startsWith('./'))
      .map((s) => `${f}: ${s}`),
  );
  expect(outside).toEqual([]);
});

test('nothing the operator or the plugin runs imports the build tools', () => {
  const tools = join(root, 'tools');
  const reaching = sources('src').flatMap((f) =>
    imports(f)
      .filter((s) => s.startsWith('.'))
      .filter((s) => !relative(tools, join(root, f, '..', s)).startsWith('..'))
      .map((s) => `${f}: ${s}`),
  );
  expect(reaching).toEqual([]);
});
