/**
 * Questions on the technician's terminal: a hidden line (passwords) and yes/no. Ctrl-C at a
 * question ends the program with status 130 (128 + SIGINT), as a shell reports an interrupt.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { JumpError } from '../protocol/errors.js';

/** Readline in terminal mode reads Ctrl-C as a key: end the line on the screen and exit 130. */
function exitOnInterrupt(rl: ReturnType<typeof createInterface>): void {
  const interrupted = () => {
    rl.close();
    process.stderr.write('\n');
    process.exit(130);
  };
  rl.on('SIGINT', interrupted);
  // A terminal not (yet) in raw mode turns Ctrl-C into the signal itself.
  process.once('SIGINT', interrupted);
  rl.once('close', () => process.off('SIGINT', interrupted));
}

/**
 * Asks for a line on the terminal (question on stderr) without echoing it. Throws
 * VALIDATION_FAILED (field --password-stdin) when stdin is not a terminal. Ctrl-C exits 130.
 */
export function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new JumpError('VALIDATION_FAILED', { field: '--password-stdin', detail: '--password-stdin: no terminal to ask for the password on. Fix: pipe it in and pass --password-stdin.' });
  }
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  exitOnInterrupt(rl);
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
  exitOnInterrupt(rl);
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    }),
  );
}
