/**
 * `jump-client start` (agent/install/service.ts startAgent) racing a self-update (issue #17): when
 * the agent it started is stopped within the settle window by an update's watchdog, which starts the
 * new (or restored) version and writes that one's pid, `start` must report the running agent and
 * must not delete the pid file it no longer owns (the old code returned "failed to start" and removed
 * it, so `init-script status` said "not running" and the next `start` ran a second agent).
 *
 * The install dir's `jump-client` is a symlink to bash, so a started "agent" has the command line
 * `DIR/jump-client run --config DIR/config` (what the pid-file check requires) and runs `DIR/run`,
 * a script playing the update: it starts a replacement agent, writes its pid, and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { AgentConfig } from '../../agent/config.js';
import { agentState, formatInstallConf, startAgent } from '../../agent/install/service.js';
import { cleanup, tempDir } from '../helpers/processes.js';

const started: number[] = [];
afterAll(async () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await cleanup();
});

const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();

it.runIf(bash !== '')('start reports the agent a self-update put in place of its own, and keeps that one’s pid file', async () => {
  const dir = join(tempDir('jump-upd-race-'), 'jc');
  mkdirSync(dir);
  symlinkSync(bash, join(dir, 'jump-client'));
  writeFileSync(join(dir, 'install.conf'), formatInstallConf({ mode: 'user', run_as: 'nobody', installer: 'test', version: '0.1.0' }));
  new AgentConfig(join(dir, 'config')).update({ client_id: 1 });
  mkdirSync(join(dir, 'update'), { mode: 0o700 });
  writeFileSync(
    join(dir, 'run'),
    [
      '# $1 --config, $2 DIR/config, $3 --second for the replacement',
      'if [ "${3:-}" = --second ]; then exec 0<&- 1>/dev/null 2>&1; sleep 20; exit 0; fi',
      // The update begins (its state file), the watchdog stops this agent and starts the new one.
      'echo "{}" > update/state.json',
      'sleep 0.2',
      '"$PWD/jump-client" run "$1" "$2" --second &',
      'echo $! > jump-client.pid',
      'rm -f update/state.json',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(join(dir, 'run'), 0o755);
  const r = await startAgent(dir);
  const pid = Number(readFileSync(join(dir, 'jump-client.pid'), 'utf8').trim());
  started.push(pid);
  expect(r, r.message).toMatchObject({ code: 0, message: `Jump client started (pid ${pid}).` });
  expect(agentState(dir)).toEqual({ state: 'running', pid });
  expect(existsSync(`/proc/${pid}`)).toBe(true);
}, 20_000);
