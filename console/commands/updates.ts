/**
 * `jump updates [status]|pause|resume|retry ID`: self-update of jump clients (issue #17,
 * `/api/v1/updates`, docs/updates.md). Status for every user; pause, resume and retry for admins.
 */
import type { Command } from 'commander';
import type { ApiUpdateStatus } from '../../protocol/api.js';
import { JumpError } from '../../protocol/errors.js';
import { out, site } from '../cli.js';
import { bytes, listTable, outputWidth, safeText, shortTime } from '../format.js';

/** The status as text: policy, served builds, clients per version, in flight, failed with reasons. */
export function updateStatusText(s: ApiUpdateStatus): string {
  const lines: string[] = [];
  const policy = s.mode === 'off' ? 'off (updates.mode)' : s.paused ? 'paused (`jump updates resume`)' : 'auto';
  lines.push(
    `Updates: ${policy}; at most ${s.max_concurrent ?? 'unlimited'} at once, ${s.max_bandwidth_mib === null ? 'no bandwidth cap' : `${s.max_bandwidth_mib} MiB/s`}, health timeout ${Math.round(s.health_timeout_ms / 1000)} s.`,
    `Update-signing key: ${safeText(s.update_pin)}`,
    `In flight: ${s.in_flight.length}. Completed since the site started: ${s.completed}. Served: ${bytes(s.bytes_served)}.`,
    '',
  );
  lines.push(
    s.builds.length === 0
      ? 'No builds served (jump-site builds import DIR on the site host).'
      : listTable(['PLATFORM', 'SERVED VERSION', 'SIZE', 'IMPORTED'], s.builds.map((b) => [b.platform, b.version, bytes(b.size), shortTime(b.imported_at)]), { width: outputWidth() }),
  );
  lines.push('');
  lines.push(
    listTable(
      ['PLATFORM', 'VERSION', 'CLIENTS', 'ONLINE', ''],
      s.versions.map((v) => [v.platform ?? '(unpackaged)', v.version ?? '(never connected)', v.clients, v.online, v.current ? 'served' : '']),
      { width: outputWidth() },
    ),
  );
  if (s.in_flight.length > 0) {
    lines.push('', listTable(['CLIENT', 'TO VERSION', 'PHASE', 'SINCE', 'SENT'], s.in_flight.map((f) => [f.client_id, f.version, f.phase, shortTime(f.since), bytes(f.bytes_sent)]), { width: outputWidth() }));
  }
  if (s.failed.length > 0) {
    lines.push(
      '',
      `Failed (not offered again until \`jump updates retry ID\`):`,
      listTable(['CLIENT', 'NAME', 'VERSION', 'CODE', 'REASON', 'AT'], s.failed.map((f) => [f.client_id, f.name, f.version, f.code, f.reason, shortTime(f.at)]), { width: outputWidth(), shrink: { REASON: 12, NAME: 8 } }),
    );
  }
  return lines.join('\n');
}

export function registerUpdateCommands(program: Command): void {
  const updates = program.command('updates').description('Self-update of jump clients: status, pause, resume, retry (docs/updates.md).');

  updates
    .command('status', { isDefault: true })
    .description('Clients per version, updates in flight, failed updates with their reasons.')
    .action(async (_o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiUpdateStatus }>('GET', '/api/v1/updates');
      out(r.item, () => updateStatusText(r.item));
    });

  updates
    .command('pause')
    .description('Start no new update (admins); updates in flight go on. Clients ask again in 5-10 minutes.')
    .action(async (_o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiUpdateStatus }>('POST', '/api/v1/updates/pause');
      out(r.item, `Updates paused. In flight: ${r.item.in_flight.length} (they go on). \`jump updates resume\` starts them again.`);
    });

  updates
    .command('resume')
    .description('Offer updates again (admins); waiting clients ask again within 10 minutes.')
    .action(async (_o, cmd: Command) => {
      const r = await site(cmd).request<{ item: ApiUpdateStatus }>('POST', '/api/v1/updates/resume');
      out(r.item, `Updates resumed${r.item.mode === 'off' ? ', but updates.mode is off: `jump settings set updates.mode auto` to offer them' : ''}.`);
    });

  updates
    .command('retry <id>')
    .description('Clear the failed update of jump client ID so it is offered the served build again (admins).')
    .action(async (id: string, _o, cmd: Command) => {
      if (!/^[1-9]\d{0,9}$/.test(id)) throw new JumpError('VALIDATION_FAILED', { field: 'ID', detail: `ID: "${id.slice(0, 40)}" is not a jump client id. Fix: give the number \`jump updates status\` lists.` });
      const r = await site(cmd).request<{ item: { client_id: number; cleared: { version: string; code: string; reason: string } } }>('POST', `/api/v1/updates/retry/${id}`);
      out(r.item, `Jump client ${r.item.client_id}: cleared the failure of ${safeText(r.item.cleared.version)} (${safeText(r.item.cleared.code)}); it is offered the served build at its next check.`);
    });
}
