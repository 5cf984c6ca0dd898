/**
 * The jump client commands: list (grouped by jump group and tag, with the seeds' totals line), show,
 * edit, delete, and release (an admin ends a quarantine: docs/security.md, one identity on two live
 * connections).
 */
import { Option, type Command } from 'commander';
import type { ApiJumpClientDetail, ApiJumpClientList } from '../../protocol/api.js';
import { JumpError } from '../../protocol/errors.js';
import { SEARCH_FIELDS } from '../../protocol/fields.js';
import { collect, out, resolveClient, site } from '../cli.js';
import { promptYesNo } from '../prompt.js';
import { bytes, clientsTable, detailsTable, outputWidth, plural, safeText, shortTime, summaryLine } from '../format.js';

/** `jump clients [list]|show|edit|delete|release`. */
export function registerClientCommands(program: Command): void {
  const clients = program.command('clients').description('List, search, show, edit and delete jump clients.');

  clients
    .command('list', { isDefault: true })
    .description('List jump clients, grouped by jump group and tag.')
    .option('--search <text>', 'text to find (case-insensitive substring)')
    .addOption(new Option('--field <field...>', `fields to search: ${SEARCH_FIELDS.join(', ')} (default: all)`).argParser(collect))
    .option('--group <group>', 'only this jump group (a shared group or user:<name>)')
    .option('--tag <tag>', 'only this tag')
    .addOption(new Option('-o, --output <format>', 'wide: every column, never cut to the terminal width').choices(['wide']))
    .option('--no-headers', 'no header row, group headings or totals line: one plain line per jump client (for scripts)')
    .action(async (o, cmd: Command) => {
      const fields = (o.field as string[] | undefined) ?? [];
      for (const f of fields) {
        if (!(SEARCH_FIELDS as readonly string[]).includes(f)) {
          throw new JumpError('VALIDATION_FAILED', { field: '--field', detail: `Unknown field "${f}"; use ${SEARCH_FIELDS.join(', ')}.` });
        }
      }
      const q = new URLSearchParams();
      if (o.search) q.set('search', o.search);
      if (fields.length) q.set('fields', fields.join(','));
      if (o.group) q.set('group', o.group);
      if (o.tag !== undefined) q.set('tag', o.tag);
      const r = await site(cmd).request<ApiJumpClientList>('GET', `/api/v1/jump-clients?${q}`);
      out(r, () => {
        const table = clientsTable(r.items, { wide: o.output === 'wide', headers: o.headers !== false, width: outputWidth() });
        if (o.headers === false) return table;
        const dups = r.items.filter((c) => c.duplicate_machine_id).length;
        const note = dups ? `\n${plural(dups, 'online jump client shares', 'online jump clients share')} a machine id with another one (a cloned image?).` : '';
        return `${table}\n${summaryLine(r.summary)}${note}`;
      });
    });

  clients
    .command('show <id|name>')
    .description('Show one jump client with all its statistics.')
    .action(async (ref: string, _o, cmd: Command) => {
      const c = await resolveClient(site(cmd), ref);
      const s = c.stats as Record<string, unknown>;
      const bootTime = typeof s.boot_time === 'number' ? s.boot_time : null;
      out({ item: c }, () =>
        detailsTable([
          ['ID', c.id],
          ['Name', c.name],
          ['Status', c.status + (c.duplicate_machine_id ? ' (another online jump client has the same machine id)' : '')],
          ...(c.quarantined
            ? [['Quarantined', `since ${shortTime(c.quarantined_at)}: ${c.quarantine_reason ?? ''}. Fix: remove the copied key, then \`jump clients release ${c.id}\` (admin).`] as [string, unknown]]
            : []),
          ...(c.lost_at ? [['Lost', `since ${shortTime(c.lost_at)} (offline past jump-clients.max-offline); purged ${shortTime(c.purge_at)} unless it connects again`] as [string, unknown]] : []),
          ['Max Offline', c.max_offline ?? 'site default (jump-clients.max-offline)'],
          ...(c.duplicate_of ? [['Duplicate Of', `jump client ${c.duplicate_of} (same machine id, another installer)`] as [string, unknown]] : []),
          ...(c.clone_report
            ? [['Clone Reported', `${shortTime(c.clone_report.at)}: a copy on machine id ${c.clone_report.machine_id} from ${c.clone_report.public_ip} stopped (${c.clone_report.count} report${c.clone_report.count === 1 ? '' : 's'}); reinstall the jump client on that machine`] as [string, unknown]]
            : []),
          ['Mode', c.mode],
          ['Jump Group', c.jump_group],
          ['Tag', c.tag],
          ['Comments', c.comments],
          ['Jump Method', c.jump_method],
          ['Hostname', c.hostname],
          ['FQDN', s.fqdn],
          ['Public IP', c.public_ip],
          ['Private IP', c.private_ips],
          ['Console User', c.console_user],
          ['Domain', c.domain],
          ['Workgroup', c.workgroup],
          ['Operating System', [s.os_name, s.os_version].filter(Boolean).join(' ')],
          ['Platform', [s.platform, s.arch].filter(Boolean).join(' ')],
          ['CPU', s.cpu_model ? `${s.cpu_model} (${s.cpu_cores} cores), load ${s.cpu_load_pct}%` : ''],
          ['Memory', s.mem_total_bytes ? `${bytes(s.mem_used_bytes)} of ${bytes(s.mem_total_bytes)} used` : ''],
          ['Disk', s.disk_total_bytes ? `${bytes(s.disk_used_bytes)} of ${bytes(s.disk_total_bytes)} used` : ''],
          ['Up Since', bootTime ? shortTime(new Date(bootTime).toISOString()) : ''],
          ['Version', c.version ?? s.agent_version],
          ...(c.update_failure
            ? [['Update Failed', `${c.update_failure.version}: ${c.update_failure.code} ${c.update_failure.reason} (${shortTime(c.update_failure.at)}). Fix: \`jump updates retry ${c.id}\` (admin) once the build is fixed.`] as [string, unknown]]
            : []),
          ['Last Connected', shortTime(c.last_connected)],
          ['Last Disconnected', shortTime(c.last_disconnected as string | null)],
          ['Last Access', shortTime(c.last_access as string | null)],
          ['Installer', c.installer],
          ['Created', shortTime(c.created_at as string | null)],
        ]),
      );
    });

  clients
    .command('edit <id|name...>')
    .description('Edit jump clients (seeds: Properties). An empty --tag returns them to the group top level.')
    .option('--name <name>', 'jump item name, at most 128 characters ("" shows the hostname again)')
    .option('--jump-group <group>', 'move to this jump group (a shared group or user:<name>)')
    .option('--tag <tag>', 'tag, at most 64 characters ("" for none)')
    .option('--comments <text>', 'comments, at most 1024 characters')
    .addOption(new Option('--passive', 'make it passive (no persistent connection)').conflicts('active'))
    .option('--active', 'make it active (counts against jump-clients.max-active)')
    .option('--max-offline <duration>', 'mark it lost when offline this long, e.g. 30d; 0: the site\'s jump-clients.max-offline')
    .action(async (refs: string[], o, cmd: Command) => {
      const body: Record<string, string> = {};
      if (o.passive) body.mode = 'passive';
      if (o.active) body.mode = 'active';
      if (o.maxOffline !== undefined) body.max_offline = o.maxOffline;
      if (o.name !== undefined) body.name = o.name;
      if (o.jumpGroup !== undefined) body.jump_group = o.jumpGroup;
      if (o.tag !== undefined) body.tag = o.tag;
      if (o.comments !== undefined) body.comments = o.comments;
      if (Object.keys(body).length === 0) {
        throw new JumpError('VALIDATION_FAILED', { field: 'options', detail: 'options: nothing to change. Fix: give at least one of --name, --jump-group, --tag, --comments, --passive, --active, --max-offline.' });
      }
      const client = site(cmd);
      // Resolve every reference first, so an unknown one changes nothing.
      const targets = [];
      for (const ref of refs) targets.push(await resolveClient(client, ref));
      const items = [];
      for (const t of targets) items.push((await client.request<{ item: ApiJumpClientDetail }>('PATCH', `/api/v1/jump-clients/${t.id}`, body)).item);
      out({ items }, items.map((c) => `Updated jump client ${safeText(c.id)} (${safeText(c.name)}).`).join('\n'));
    });

  clients
    .command('delete <id|name...>')
    .description('Delete jump clients: they are revoked, disconnected and removed from the Jump interface. Asks y/N on a terminal.')
    .option('-y, --yes', 'delete without asking (needed without a terminal)')
    .action(async (refs: string[], o, cmd: Command) => {
      const client = site(cmd);
      // Resolve every reference first: an unknown one is reported before any question, and changes nothing.
      const targets = [];
      for (const ref of refs) targets.push(await resolveClient(client, ref));
      const what = `${plural(targets.length, 'jump client')}: ${targets.map((t) => `${safeText(t.id)} (${safeText(t.name)})`).join(', ')}`;
      if (!o.yes) {
        if (!process.stdin.isTTY || !process.stderr.isTTY) {
          cmd.error(`error: refusing to delete ${what} without confirmation: there is no terminal to ask on; pass --yes`, { exitCode: 2, code: 'jump.confirmationRequired' });
        }
        if (!(await promptYesNo(`Delete ${what}? They are revoked and disconnected. [y/N] `))) {
          process.stderr.write('Nothing deleted.\n');
          process.exitCode = 1;
          return;
        }
      }
      const r = await client.request<{ deleted: number[] }>('POST', '/api/v1/jump-clients/delete', { ids: targets.map((t) => t.id) });
      out(r, `Deleted ${plural(r.deleted.length, 'jump client')}: ${r.deleted.map(safeText).join(', ')}.`);
    });

  clients
    .command('release <id|name>')
    .description(
      'End the quarantine of a jump client whose identity was used by two live connections at once (admins). Remove the copy of its key first: the next double use quarantines it again.',
    )
    .action(async (ref: string, _o, cmd: Command) => {
      const client = site(cmd);
      const target = await resolveClient(client, ref);
      const r = await client.request<{ item: ApiJumpClientDetail }>('POST', `/api/v1/jump-clients/${target.id}/release`);
      out(r, `Released jump client ${safeText(r.item.id)} (${safeText(r.item.name)}): it may connect again.`);
    });
}
