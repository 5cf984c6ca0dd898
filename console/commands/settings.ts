/**
 * `jump settings [list]|get|set|unset`: the site's settings over the API, for admins (issue #18
 * item 4; `/api/v1/settings`). The same keys and validation as `jump-site settings` on the site
 * host (site/settings.ts); a change applies at once.
 */
import type { Command } from 'commander';
import { out, site } from '../cli.js';
import { listTable, outputWidth, safeText } from '../format.js';

/** One setting as `/api/v1/settings` returns it. */
interface SettingItem {
  key: string;
  value: string;
  default: string;
  source: 'set' | 'default';
  description: string;
}

export function registerSettingsCommands(program: Command): void {
  const settings = program.command('settings').description('Site settings: license limits and other values that change while the site runs (admins).');

  settings
    .command('list', { isDefault: true })
    .description('Every setting with its value in effect and its default.')
    .option('--no-headers', 'no header row (for scripts)')
    .action(async (o, cmd: Command) => {
      const r = await site(cmd).request<{ items: SettingItem[] }>('GET', '/api/v1/settings');
      out(r, () =>
        listTable(
          ['KEY', 'VALUE', 'DEFAULT'],
          r.items.map((s) => [s.key, s.value + (s.source === 'default' ? ' (default)' : ''), s.default]),
          { headers: o.headers !== false, width: outputWidth() },
        ),
      );
    });

  settings
    .command('get <key>')
    .description('One setting: its value, default and meaning.')
    .action(async (key: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: SettingItem }>('GET', `/api/v1/settings/${encodeURIComponent(key)}`);
      out(r, `${safeText(r.item.key)} = ${safeText(r.item.value)}${r.item.source === 'default' ? ' (default)' : ''}\n  ${safeText(r.item.description)}`);
    });

  settings
    .command('set <key> <value>')
    .description('Set a setting; an unknown key or a bad value is refused and changes nothing.')
    .action(async (key: string, value: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: SettingItem }>('PUT', `/api/v1/settings/${encodeURIComponent(key)}`, { value });
      out(r, `${safeText(r.item.key)} = ${safeText(r.item.value)}`);
    });

  settings
    .command('unset <key>')
    .description('Return a setting to its default.')
    .action(async (key: string, _o, cmd: Command) => {
      const r = await site(cmd).request<{ item: SettingItem }>('DELETE', `/api/v1/settings/${encodeURIComponent(key)}`);
      out(r, `${safeText(r.item.key)} = ${safeText(r.item.value)} (default)`);
    });
}
