/**
 * asciicast v2 (the format every Jump PTY is recorded in, site/sessions.ts): parsing and a player
 * that writes the recorded output into a terminal, never into the page as HTML (a recording is
 * endpoint output: untrusted).
 *
 * Format: the first line is a JSON header `{ version: 2, width, height, timestamp?, env? }`; each
 * later line a JSON event `[seconds, code, data]`: `o` output, `i` input, `r` resize (`"COLSxROWS"`).
 */

export interface CastEvent {
  /** Seconds since the start. */
  t: number;
  code: 'o' | 'r';
  data: string;
}

export interface Cast {
  width: number;
  height: number;
  events: CastEvent[];
  /** Lines that were not a valid event (skipped). */
  skipped: number;
  /** Seconds of the last event, after idle gaps were shortened. */
  duration: number;
}

/** Gaps with no output longer than this are shortened to it when played, in seconds (as asciinema's idle_time_limit). */
export const IDLE_LIMIT_S = 2;

/**
 * Parses an asciicast v2 recording. Throws an Error naming the problem when the header is not
 * asciicast v2; skips (and counts) event lines that are not `[number, string, string]`. Idle gaps
 * over `idleLimitS` are shortened to it.
 */
export function parseCast(text: string, idleLimitS = IDLE_LIMIT_S): Cast {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  let header: { version?: unknown; width?: unknown; height?: unknown };
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    throw new Error('The recording is not asciicast v2: its first line is not a JSON header.');
  }
  if (header?.version !== 2) throw new Error('The recording is not asciicast v2 (header version is not 2).');
  const dim = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1000 ? v : d);
  const events: CastEvent[] = [];
  let skipped = 0;
  let last = 0;
  let shift = 0;
  for (const line of lines.slice(1)) {
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (!Array.isArray(e) || typeof e[0] !== 'number' || !Number.isFinite(e[0]) || typeof e[1] !== 'string' || typeof e[2] !== 'string') {
      skipped++;
      continue;
    }
    if (e[1] !== 'o' && e[1] !== 'r') continue; // input is not shown
    const raw = Math.max(e[0], last);
    const gap = raw - last;
    if (gap > idleLimitS) shift += gap - idleLimitS;
    last = raw;
    events.push({ t: raw - shift, code: e[1], data: e[2] });
  }
  return { width: dim(header.width, 80), height: dim(header.height, 24), events, skipped, duration: events.length ? events[events.length - 1].t : 0 };
}

/** Where a player writes: a terminal (xterm.js `write`, `resize`, `reset`). */
export interface CastSink {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  reset(): void;
}

/**
 * Plays a Cast into a sink in (recorded time / speed), with play, pause, speed changes and
 * restart. `onProgress(seconds, playing)` is called as it goes and when it stops or ends.
 */
export class CastPlayer {
  private next = 0;
  /** Recorded seconds played so far, at `since` (performance.now ms) when playing. */
  private pos = 0;
  private since = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private speed = 1;

  constructor(
    private readonly cast: Cast,
    private readonly sink: CastSink,
    private readonly onProgress: (seconds: number, playing: boolean) => void = () => undefined,
  ) {
    sink.reset();
    sink.resize(cast.width, cast.height);
  }

  get playing(): boolean {
    return this.timer !== null;
  }

  /** Recorded seconds played so far. */
  get position(): number {
    return this.playing ? Math.min(this.cast.duration, this.pos + ((performance.now() - this.since) / 1000) * this.speed) : this.pos;
  }

  play(): void {
    if (this.playing) return;
    if (this.next >= this.cast.events.length) this.restart();
    this.since = performance.now();
    this.schedule();
  }

  pause(): void {
    if (!this.timer) return;
    this.pos = this.position;
    clearTimeout(this.timer);
    this.timer = null;
    this.onProgress(this.pos, false);
  }

  /** Sets the speed factor (e.g. 0.5, 1, 2, 16): playing goes on from where it is. */
  setSpeed(speed: number): void {
    if (!(speed > 0 && speed <= 1000)) return;
    const wasPlaying = this.playing;
    this.pause();
    this.speed = speed;
    if (wasPlaying) this.play();
  }

  /** Back to the start (paused). */
  restart(): void {
    this.pause();
    this.next = 0;
    this.pos = 0;
    this.sink.reset();
    this.sink.resize(this.cast.width, this.cast.height);
    this.onProgress(0, false);
  }

  /** Stops for good (the page shows another recording). */
  dispose(): void {
    this.pause();
  }

  private schedule(): void {
    const now = this.position;
    // Everything due now (and within 10 ms) is written in one go.
    let out = '';
    while (this.next < this.cast.events.length && this.cast.events[this.next].t <= now + 0.01) {
      const e = this.cast.events[this.next++];
      if (e.code === 'o') out += e.data;
      else {
        if (out) this.sink.write(out);
        out = '';
        const m = /^(\d{1,4})x(\d{1,4})$/.exec(e.data);
        if (m) this.sink.resize(Math.max(2, Math.min(500, Number(m[1]))), Math.max(1, Math.min(200, Number(m[2]))));
      }
    }
    if (out) this.sink.write(out);
    if (this.next >= this.cast.events.length) {
      this.timer = null;
      this.pos = this.cast.duration;
      this.onProgress(this.pos, false);
      return;
    }
    const wait = ((this.cast.events[this.next].t - now) / this.speed) * 1000;
    this.onProgress(now, true);
    this.timer = setTimeout(() => this.schedule(), Math.max(0, Math.min(wait, 250)));
  }
}
