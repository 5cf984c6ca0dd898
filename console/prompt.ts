/** Questions on the technician's terminal: a hidden line (passwords) and yes/no. */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { JumpError } from '../protocol/errors.js';

/**
 * Asks for a line on the terminal (question on stderr) without echoing it. Throws
 * VALIDATION_FAILED (field --password-stdin) when stdin is not a terminal.
 */
export function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new JumpError('VALIDATION_FAILED', { field: '--password-stdin', detail: 'No terminal to ask on: pass the password with --password-stdin.' });
  }
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) =>
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    }),
  );
}

/** Asks a yes/no question on the terminal (stdin/stderr); true only for "yes" or "y". */
export function promptYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    }),
  );
}
