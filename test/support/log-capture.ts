import { Writable } from 'node:stream';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A pino destination that keeps every JSON line, so tests can assert on logs. */
export class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  #pending = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#pending += chunk.toString('utf8');
    let newline = this.#pending.indexOf('\n');
    while (newline !== -1) {
      const line = this.#pending.slice(0, newline);
      this.#pending = this.#pending.slice(newline + 1);
      if (line.trim() !== '') {
        this.raw.push(line);
        const parsed = JSON.parse(line) as LogLine;
        this.lines.push(parsed);
        this.emit('line', parsed);
      }
      newline = this.#pending.indexOf('\n');
    }
    callback();
  }

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(predicate);
  }

  /** Resolves with the first line, already logged or still to come, that matches. */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const hit = this.find(predicate);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('line', onLine);
        reject(new Error(`no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLine = (line: LogLine): void => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        this.off('line', onLine);
        resolve(line);
      };
      this.on('line', onLine);
    });
  }
}
