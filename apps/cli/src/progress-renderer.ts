import { fitToWidth, formatProgressLine, type ProgressSnapshot } from './progress';

/** Where progress goes: process.stdout, or a fake in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface RendererOptions {
  /** Show accuracy (false for regression). */
  accuracy?: boolean;
  /** Plain mode (not a TTY): at most one line per this many ms. */
  plainEveryMs?: number;
  /** TTY mode: redraw at most this often. */
  ttyEveryMs?: number;
  /** Throttled notes (evaluations during a run): at most one per this many ms. */
  notesEveryMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 24;
/** Carriage return + erase line: the only escape sequence we write, and only to a TTY. */
const CLEAR_LINE = '\r\x1b[2K';

/**
 * Live progress. On a TTY one line redrawn in place with a bar; otherwise (pipes, CI logs) a plain
 * line every few seconds and no escape sequences at all.
 */
export class ProgressRenderer {
  private last?: ProgressSnapshot;
  private lastLine = '';
  private lastDrawAt = -Infinity;
  private lastNoteAt = -Infinity;
  private barShown = false;
  private readonly now: () => number;

  constructor(
    private readonly out: ProgressOutput,
    private readonly options: RendererOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** Show a snapshot (throttled unless `force`). */
  update(s: ProgressSnapshot, force = false): void {
    this.last = s;
    const every = this.tty ? (this.options.ttyEveryMs ?? 100) : (this.options.plainEveryMs ?? 5000);
    const now = this.now();
    if (!force && now - this.lastDrawAt < every) return;
    // a log line before the first step says nothing: wait for one
    if (!force && !this.tty && s.step === 0) return;
    this.lastDrawAt = now;
    this.draw(s);
  }

  /** Print a line of its own (an evaluation, a message) without breaking the bar; `throttle`d notes may be dropped. */
  note(text: string, throttle = false): void {
    if (throttle) {
      const now = this.now();
      if (now - this.lastNoteAt < (this.options.notesEveryMs ?? 5000)) return;
      this.lastNoteAt = now;
    }
    if (this.tty && this.barShown) {
      this.out.write(`${CLEAR_LINE}${text}\n`);
      this.barShown = false;
      if (this.last) this.draw(this.last);
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Show the last snapshot (or `s`) for good and end the line. */
  finish(s: ProgressSnapshot | undefined = this.last): void {
    if (!s) return;
    this.last = s;
    if (this.tty) {
      this.draw(s);
      this.out.write('\n');
      this.barShown = false;
    } else if (this.line(s) !== this.lastLine) {
      this.draw(s);
    }
  }

  private line(s: ProgressSnapshot): string {
    return formatProgressLine(s, { accuracy: this.options.accuracy, bar: this.tty ? BAR_WIDTH : 0 });
  }

  private draw(s: ProgressSnapshot): void {
    const line = this.line(s);
    this.lastLine = line;
    if (this.tty) {
      this.out.write(`${CLEAR_LINE}${fitToWidth(line, this.out.columns)}`);
      this.barShown = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }
}
