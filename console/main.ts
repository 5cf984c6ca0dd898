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
import { VERSION } from '../protocol/version.js';
import { addLeafOptions, addTimeoutOption, fail, setJsonMode } from './cli.js';
import { registerClientCommands } from './commands/clients.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerInstallerCommands } from './commands/installer.js';
import { registerJumpCommands, registerTunnelCommand } from './commands/jump.js';
import { registerLoginCommands } from './commands/login.js';
import { registerSessionCommands } from './commands/sessions.js';
import { registerSshConfigCommand } from './commands/ssh-config.js';

const program = new Command('jump')
  .description('The Jump interface on the command line: jump clients, installers, jump groups.')
  .version(VERSION)
  .option('--site <url>', 'site to use (default: the last one logged in to, or $JUMP_SITE)')
  .showHelpAfterError()
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
addLeafOptions(program);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  fail(err);
});
