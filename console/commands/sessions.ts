/** The session commands: list recorded Jump sessions, show one, or print its recording or SFTP file log. */
import { Option, type Command } from 'commander';
import type { ApiSessionDetail } from '../../protocol/api.js';
import { positiveInt } from '../../protocol/cli-args.js';
import { clientRef, out, resolveClient, site } from '../cli.js';
import { bytes, detailsTable, jsonSafe, listTable, outputWidth, safeText, shortTime } from '../format.js';

/** `jump sessions [list]|show`. */
export function registerSessionCommands(program: Command): void {
  const sessions = program.command('sessions').description('Recorded Jump sessions.');

  sessions
    .command('list', { isDefault: true })
    .option('--client <id|name>', 'only sessions into this jump client')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
    .addOption(new Option('-o, --output <format>', 'wide: every column whole, never cut to the terminal width').choices(['wide']))
    .option('--no-headers', 'no header row (for scripts)')
    .action(async (o, cmd: Command) => {
      const client = site(cmd);
      const q = new URLSearchParams({ limit: String(o.limit) });
      if (o.client) q.set('client', String((await resolveClient(client, clientRef(o.client))).id));
      const r = await client.request<{ items: ApiSessionDetail[] }>('GET', `/api/v1/sessions?${q}`);
      out(r, () =>
        r.items.length === 0
          ? 'No sessions.'
          : listTable(
              ['SESSION', 'STARTED', 'TECHNICIAN', 'KIND', 'JUMP CLIENT', 'EXIT', 'IN / OUT', 'KEPT'],
              r.items.map((s) => [
                s.id,
                shortTime(s.started_at),
                s.user,
                s.kind,
                s.client ?? s.client_id,
                s.exit_status ?? '-',
                `${bytes(s.bytes_to_client)} / ${bytes(s.bytes_from_client)}`,
                [s.recording ? 'recording' : '', s.file_log ? 'file log' : ''].filter(Boolean).join(', '),
              ]),
              { wide: o.output === 'wide', headers: o.headers !== false, width: outputWidth(), shrink: { TECHNICIAN: 10, 'JUMP CLIENT': 11, SESSION: 8 } },
            ),
      );
    });

  sessions
    .command('show <id>')
    .option('--recording', 'print the asciicast v2 recording instead (play it with `asciinema play`)')
    .option('--file-log', 'print the SFTP file-operation log instead (JSON lines)')
    .action(async (id: string, o, cmd: Command) => {
      const client = site(cmd);
      if (o.recording || o.fileLog) {
        // Both are JSON lines: text inside them is already \u-escaped, so escaping what a site sends
        // raw keeps a valid recording valid and a hostile one harmless.
        const part = o.fileLog ? 'file_log' : 'terminal';
        process.stdout.write(jsonSafe(await client.requestText('GET', `/api/v1/sessions/${encodeURIComponent(id)}/recording?part=${part}`)));
        return;
      }
      const r = await client.request<{ item: ApiSessionDetail }>('GET', `/api/v1/sessions/${encodeURIComponent(id)}`);
      const s = r.item;
      out(r, () =>
        detailsTable([
          ['Session', s.id],
          ['Jump client', `${safeText(s.client)} (${safeText(s.client_id)})`],
          ['Technician', s.user],
          ['Kind', s.kind],
          ['Started', shortTime(s.started_at)],
          ['Ended', shortTime(s.ended_at)],
          ['Bytes to client', s.bytes_to_client],
          ['Bytes from client', s.bytes_from_client],
          ['Exit status', s.exit_status],
          ['End reason', s.end_reason],
          ['Recording', s.recording ? 'yes (jump sessions show --recording)' : 'no'],
          ['SFTP file log', s.file_log ? 'yes (jump sessions show --file-log)' : 'no'],
          ...(s.commands ?? []).map((c, i): [string, string] => [i === 0 ? 'Commands' : '', safeText(c)]),
        ]),
      );
    });
}
