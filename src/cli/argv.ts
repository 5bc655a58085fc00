// The command-line scanner both binaries share: the operator's flags (cli/options.ts) and
// `kubectl modelship` (plugin/args.ts). node:util's parseArgs splits argv into flags, values and
// positionals (a value flag takes the next argument whatever it looks like; after `--` everything is
// positional); on top of it, only the forms the two command lines document are flags: `--name`,
// `--name=value`, `--name value`, and the same with `-x` for a flag that has a one-letter form.
// parseArgs would also read `-abc` as three flags and `-nVALUE` as `-n VALUE`; here such an
// argument is unknown, named as it was typed. Pure.
import { parseArgs } from 'node:util';

/** A mistake on the command line: the binary prints it with a hint to --help and exits 2. */
export class UsageError extends Error {}

export interface FlagSyntax {
  /** The one-letter form, `n` for `-n`. */
  short?: string;
  /** A value flag (`--name value`, `--name=value`); otherwise a switch (`--name`, `--name=false`). */
  takesValue: boolean;
}

/** One argument as typed (`arg`), read against the flag table. */
export type ArgToken =
  /** A known flag. `value`: the value given (`=value`, or the next argument for a value flag), if any. */
  | { kind: 'flag'; arg: string; name: string; value: string | undefined }
  | { kind: 'positional'; arg: string }
  /** `--`: what follows is positional. */
  | { kind: 'terminator'; arg: string }
  /** Looks like a flag, is not one of the table's (or not in a documented form). */
  | { kind: 'unknown'; arg: string };

export function scanArgs(argv: readonly string[], flags: Readonly<Record<string, FlagSyntax>>): ArgToken[] {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [
      name,
      {
        type: f.takesValue ? ('string' as const) : ('boolean' as const),
        ...(f.short ? { short: f.short } : {}),
      },
    ]),
  );
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const out: ArgToken[] = [];
  // parseArgs makes several tokens of one argument (`-abc`); the first one stands for it.
  let last = -1;
  for (const t of tokens) {
    if (t.index === last) continue;
    last = t.index;
    const arg = argv[t.index]!;
    if (t.kind === 'positional') out.push({ kind: 'positional', arg });
    else if (t.kind === 'option-terminator') out.push({ kind: 'terminator', arg });
    else {
      const f = Object.hasOwn(flags, t.name) ? flags[t.name] : undefined;
      const known =
        f !== undefined &&
        (t.rawName === `--${t.name}` || (f.short !== undefined && t.rawName === `-${f.short}`));
      const inline = arg.startsWith(`${t.rawName}=`);
      if (!known || (arg !== t.rawName && !inline)) out.push({ kind: 'unknown', arg });
      else
        out.push({
          kind: 'flag',
          arg,
          name: t.name,
          value: inline ? arg.slice(t.rawName.length + 1) : t.value,
        });
    }
  }
  return out;
}
