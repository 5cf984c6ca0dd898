/** The jump group commands: list, and for admins create, delete, add-member, remove-member. */
import type { Command } from 'commander';
import type { ApiJumpGroup } from '../../protocol/api.js';
import { out, site } from '../cli.js';
import { safeText } from '../format.js';

/** `jump groups [list]|create|delete|add-member|remove-member`. */
export function registerGroupCommands(program: Command): void {
  const groups = program.command('groups').description('Jump groups: shared groups and their members, personal groups.');

  groups
    .command('list', { isDefault: true })
    .action(async (_o, cmd: Command) => {
      const r = await site(cmd).request<{ items: ApiJumpGroup[] }>('GET', '/api/v1/jump-groups');
      out(r, () => r.items.map((g) => `${safeText(g.name)}\t${safeText(g.kind)}${g.members ? '\t' + g.members.map(safeText).join(', ') : ''}`).join('\n'));
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
