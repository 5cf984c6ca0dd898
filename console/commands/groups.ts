/** The jump group commands: list, and for admins create, delete, add-member, remove-member. */
import { Option, type Command } from 'commander';
import type { ApiJumpGroup } from '../../protocol/api.js';
import { out, site } from '../cli.js';
import { listTable, outputWidth } from '../format.js';

/** `jump groups [list]|create|delete|add-member|remove-member`. */
export function registerGroupCommands(program: Command): void {
  const groups = program.command('groups').description('Jump groups: shared groups and their members, personal groups.');

  groups
    .command('list', { isDefault: true })
    .description('List the jump groups you can use: shared groups (with their members, for admins) and personal groups.')
    .addOption(new Option('-o, --output <format>', 'wide: every column whole, never cut to the terminal width').choices(['wide']))
    .option('--no-headers', 'no header row (for scripts)')
    .action(async (o, cmd: Command) => {
      const r = await site(cmd).request<{ items: ApiJumpGroup[] }>('GET', '/api/v1/jump-groups');
      out(r, () =>
        r.items.length === 0
          ? 'No jump groups.'
          : listTable(
              ['NAME', 'KIND', 'MEMBERS'],
              r.items.map((g) => [g.name, g.kind, g.members ? g.members.join(', ') : '']),
              { wide: o.output === 'wide', headers: o.headers !== false, width: outputWidth(), shrink: { MEMBERS: 10, NAME: 12 } },
            ),
      );
    });

  groups
    .command('create <name>')
    .description('Create a shared jump group (admins).')
    .action(async (name: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiJumpGroup }>('POST', '/api/v1/jump-groups', { name });
      out(r, `Created jump group "${name}".`);
    });

  groups
    .command('delete <name>')
    .description('Delete an empty shared jump group (admins).')
    .action(async (name: string, _o, cmd: Command) => {
      const r = await site(cmd).request('DELETE', `/api/v1/jump-groups/${encodeURIComponent(name)}`);
      out(r, `Deleted jump group "${name}".`);
    });

  groups
    .command('add-member <group> <user>')
    .description('Give a user access to a shared jump group (admins).')
    .action(async (group: string, user: string, _o, cmd: Command) => {
      const r = await site(cmd).request('POST', `/api/v1/jump-groups/${encodeURIComponent(group)}/members`, { user });
      out(r, `${user} is now a member of "${group}".`);
    });

  groups
    .command('remove-member <group> <user>')
    .description("Remove a user's access to a shared jump group (admins).")
    .action(async (group: string, user: string, _o, cmd: Command) => {
      const r = await site(cmd).request('DELETE', `/api/v1/jump-groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`);
      out(r, `${user} is no longer a member of "${group}".`);
    });
}
