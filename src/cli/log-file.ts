// The log file of `worker start --log FILE` (what --detach writes to): appended line by line, rotated
// at a size cap (FILE -> FILE.1 -> ... -> FILE.<keep>, the oldest dropped), reopened on request (SIGUSR1,
// after logrotate moved it away).
//
// Invariants:
//  - A failed write never throws: a full disk must not stop the workers. The line is lost, and the file
//    is opened again at the next line.
//  - Rotation renames only the file this process has open: when FILE is no longer it (another process
//    rotated it, or logrotate moved it), this process just opens the new FILE. So several processes
//    may share one log without rotating each other's fresh file away.

import { closeSync, constants as FS, fstatSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

export const DEFAULT_LOG_MAX = 10 * 1024 * 1024;
export const LOG_KEEP = 3;

export class RotatingLog {
  private fd: number | null = null;

  /** maxBytes 0: never rotate (logrotate does it). */
  constructor(readonly path: string, private readonly maxBytes: number, private readonly keep = LOG_KEEP) {}

  /** Appends one line (a newline is added). */
  write(line: string): void {
    const data = Buffer.from(`${line}\n`);
    try {
      this.fd ??= this.open();
      if (this.maxBytes > 0 && fstatSync(this.fd).size + data.length > this.maxBytes) this.rotate();
      writeSync(this.fd, data);
    } catch {
      this.closeFd();
    }
  }

  /** Closes the file; the next line opens FILE again (which may be a new file by then). */
  reopen(): void {
    this.closeFd();
  }

  close(): void {
    this.closeFd();
  }

  private open(): number {
    return openSync(this.path, FS.O_WRONLY | FS.O_APPEND | FS.O_CREAT | FS.O_NOFOLLOW, 0o600);
  }

  private rotate(): void {
    const ours = fstatSync(this.fd!).ino;
    const current = (() => {
      try {
        return statSync(this.path).ino;
      } catch {
        return null;
      }
    })();
    if (current === ours) {
      for (let i = this.keep - 1; i >= 1; i--) {
        try {
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        } catch {
          // that one does not exist yet
        }
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.closeFd();
    this.fd = this.open();
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }
}
