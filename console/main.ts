#!/usr/bin/env node
/**
 * `jump`: the technician's console (the Jump interface, on the command line).
 *
 *   jump login --site URL [--user U] [--password-stdin] [--fingerprint SHA256:...]
 *   jump clients [list] [--search TEXT] [--field F ...] [--group G] [--tag T]
 *   jump clients show|edit|delete ...     jump installer create|list|show|revoke ...
 *   jump groups list|create|delete|add-member|remove-member ...
 *   jump jump|proxy|tunnel ...            jump ssh-config     jump sessions list|show ...
 *
 * Every command takes --json (machine output on stdout) and --site (or JUMP_SITE) to pick a stored
 * login. Exit status: 0 success; 1 an error, printed as `CODE: message` (with --json, as
 * `{"error":{...}}` on stdout); 2 usage.
 *
 * This file only builds the program: the commands are in console/commands/ (one file per group),
 * what they share (output, errors, the site's API client, leaf options) in console/cli.ts.
 */
import { Command, CommanderError } from 'commander';
import { EXAMPLES } from './examples.js';
import { addHelpTexts, commandPath } from '../protocol/cli-help.js';
import { VERSION } from '../protocol/version.js';
import { addLeafOptions, addTimeoutOption, fail, setJsonMode } from './cli.js';
import { registerClientCommands } from './commands/clients.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerInstallerCommands } from './commands/installer.js';
import { registerJumpCommands, registerTunnelCommand } from './commands/jump.js';
import { registerLoginCommands } from './commands/login.js';
import { registerSessionCommands } from './commands/sessions.js';
import { registerSettingsCommands } from './commands/settings.js';
import { registerSshConfigCommand } from './commands/ssh-config.js';
import { registerUpdateCommands } from './commands/updates.js';

const program = new Command('jump')
  .description('The Jump interface on the command line: jump clients, installers, jump groups.')
  .version(VERSION)
  .option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)')
  .exitOverride()
  .hook('preAction', (_program, action) => {
    setJsonMode(Boolean(action.optsWithGlobals().json));
  });

addTimeoutOption(program);

// In this order, the order `jump --help` lists them in.
registerLoginCommands(program);
registerClientCommands(program);
registerInstallerCommands(program);
registerGroupCommands(program);
registerJumpCommands(program);
registerSshConfigCommand(program);
registerTunnelCommand(program);
registerSessionCommands(program);
registerSettingsCommands(program);
registerUpdateCommands(program);
addLeafOptions(program);
addHelpTexts(program, EXAMPLES);
oneLineUsageErrors(program);



/**
 * Usage errors (unknown option or command, missing or excess argument) print one line and where
 * the help is: `error: unknown command 'shwo' (Did you mean show?)` then `see 'jump clients --help'`,
 * on stderr; the run exits 2 (below). A group's default subcommand (`jump clients` is `jump clients
 * list`) takes no operands, so a word after the group that is no subcommand is reported as an
 * unknown command of the group, with a suggestion, not as excess arguments of `list`.
 */
function oneLineUsageErrors(cmd: Command): void {
  const path = commandPath(cmd);
  cmd.configureOutput({
    outputError: (str, write) => write(`${str.trim().replace(/\s*\n\s*/g, ' ')}\nsee '${path} --help'\n`),
  });
  if (cmd.commands.length > 0) {
    cmd.hook('preSubcommand', (group, sub) => {
      const word = group.args[0];
      if (word !== undefined && !word.startsWith('-') && word !== sub.name() && !sub.aliases().includes(word) && sub.registeredArguments.length === 0) {
        (group as unknown as { unknownCommand(): never }).unknownCommand(); // public in commander, not in its types
      }
    });
  }
  for (const c of cmd.commands) oneLineUsageErrors(c);
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  fail(err);
});
