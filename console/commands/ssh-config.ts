/** `jump ssh-config`: OpenSSH Host blocks and known_hosts for every reachable jump client (generator: console/ssh-config.ts). */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiJumpClientList } from '../../protocol/api.js';
import { configDir, out, site } from '../cli.js';
import { safeText } from '../format.js';
import { jumpIdentity } from '../ssh.js';
import { proxyCommandArgv, sshConfigFiles } from '../ssh-config.js';

/** `jump ssh-config [--write]`. */
export function registerSshConfigCommand(program: Command): void {
  program
    .command('ssh-config')
    .description('Print OpenSSH Host blocks for every jump client you may reach, and write their known_hosts entries.')
    .option('--write', 'also write the blocks to <config dir>/ssh_config (use it with `ssh -F` or an Include line)')
    .action(async (o, cmd: Command) => {
      const client = site(cmd);
      const dir = configDir();
      const identity = jumpIdentity(dir);
      const r = await client.request<ApiJumpClientList>('GET', '/api/v1/jump-clients');
      const knownHosts = join(dir, 'known_hosts');
      // Site text goes into these files only as validated tokens (console/ssh-config.ts).
      // A path that outlives npx's cache: the installed `jump` or the package's own file (console/ssh-config.ts).
      const proxy = proxyCommandArgv(process.argv[1], process.execPath, process.env.PATH);
      if (proxy.warning) process.stderr.write(`Warning: ${proxy.warning}.\n`);
      const files = sshConfigFiles(Array.isArray(r.items) ? r.items : [], {
        proxyArgv: [...proxy.argv, '--site', client.siteUrl],
        proxyEnv: process.env.JUMP_CONFIG_DIR ? { JUMP_CONFIG_DIR: process.env.JUMP_CONFIG_DIR } : {},
        knownHostsFile: knownHosts,
        identityFile: identity.file,
      });
      for (const s of files.skipped) process.stderr.write(`Left out jump client ${safeText(s.id)}: ${s.reason}.\n`);
      writeFileSync(knownHosts, files.knownHosts, { mode: 0o600 });
      const text = files.sshConfig;
      if (o.write) writeFileSync(join(dir, 'ssh_config'), text, { mode: 0o600 });
      out({ ssh_config: text, known_hosts: knownHosts, identity: identity.file, clients: files.ids.length, skipped: files.skipped }, text.trimEnd());
    });
}
