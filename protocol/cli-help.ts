/**
 * The help text the three programs (`jump-site`, `jump`, `jump-client`) add after commander's own:
 * an `Examples:` section per command and, for some, a closing table (exit codes). Issue #14: every
 * command's --help shows examples.
 */
import type { Command } from 'commander';

/** The command's path as typed, from the program's name down: `jump clients list`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Adds to the end of the --help of `cmd` and of every command below it: the `Examples:` listed in
 * `examples` under the command's path (`commandPath`), one per line, then `trailer` when given
 * (e.g. an exit-code table). Commands without an entry get only the trailer.
 */
export function addHelpTexts(cmd: Command, examples: Record<string, string[]>, trailer?: string): void {
  const lines = examples[commandPath(cmd)];
  if (lines) cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  if (trailer) cmd.addHelpText('after', trailer);
  for (const c of cmd.commands) addHelpTexts(c, examples, trailer);
}
