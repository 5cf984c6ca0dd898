/**
 * Drives the built console (`dist/console/main.js`) on a pseudo-terminal (node-pty), for what only
 * a terminal shows: prompts, hidden password entry, Ctrl-C, the terminal's width.
 */
import { CONSOLE_BIN } from './processes.js';

/**
 * Runs `jump ARGS` on a pseudo-terminal `cols` x `rows` (default 200 x 24) with `JUMP_CONFIG_DIR`
 * = `dir` and COLUMNS unset (the width is the terminal's). `steps` are [prompt to wait for, what to
 * type], answered in turn: text is sent with Enter, a control character (e.g. '\x03', Ctrl-C)
 * alone. A prompt that never comes ends the run after 20 s, so the test fails rather than hangs.
 * Resolves with the exit code and everything printed, line ends as '\n'.
 */
export async function consoleOnTty(
  args: string[],
  steps: [RegExp, string][],
  opts: { dir: string; cols?: number; rows?: number },
): Promise<{ code: number; output: string }> {
  const pty = await import('node-pty');
  const env: Record<string, string> = { ...(process.env as Record<string, string>), JUMP_CONFIG_DIR: opts.dir };
  delete env.COLUMNS;
  const pending = [...steps];
  return new Promise((resolve) => {
    const p = pty.spawn(process.execPath, [CONSOLE_BIN, ...args], { cols: opts.cols ?? 200, rows: opts.rows ?? 24, env });
    let output = '';
    let seen = 0;
    p.onData((d) => {
      output += d;
      const next = pending[0];
      if (next && next[0].test(output.slice(seen))) {
        seen = output.length;
        pending.shift();
        p.write(/^[\x00-\x1f]$/.test(next[1]) ? next[1] : next[1] + '\r');
      }
    });
    const stuck = setTimeout(() => p.kill(), 20_000);
    p.onExit((e) => {
      clearTimeout(stuck);
      resolve({ code: e.exitCode, output: output.replace(/\r\n/g, '\n') });
    });
  });
}
