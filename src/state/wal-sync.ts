import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Runs `flush` for whoever asks, sharing one run among everyone who asked before it began. A
 * caller who asks while a run is under way may have written after it began, so it waits for
 * the next run, which starts as soon as the current one ends; everyone who asks meanwhile shares
 * that one. However many ask at once, at most two runs are needed.
 */
export class SharedFlush {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  request(): Promise<void> {
    if (this.running === undefined) return this.start();
    this.next ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.next;
  }

  private startQueued(): Promise<void> {
    this.next = undefined;
    return this.running ?? this.start();
  }

  private start(): Promise<void> {
    const run = this.flush().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/**
 * Makes the commits of a SQLite database in WAL mode with `synchronous = NORMAL` durable on
 * demand, by an fsync of its write-ahead log.
 *
 * With NORMAL, SQLite writes each commit to the log without waiting for the disk; a crash of
 * the process loses nothing, a power cut loses a suffix of the commits, never a middle one, and
 * the file stays consistent. What needs more (a message about to be acked) asks for `sync()`,
 * which waits for one fsync shared by every commit before it, on libuv's thread pool: the event
 * loop never blocks on the disk, and a thousand commits cost one fsync, not a thousand.
 * SQLite syncs the log itself before each checkpoint, so what a checkpoint moved out of the log
 * is durable in the database file already.
 */
export class WalSync {
  private handle: FileHandle | undefined;
  private readonly shared = new SharedFlush(() => this.fsync());

  constructor(private readonly walFile: string) {}

  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void> {
    return this.shared.request();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private async fsync(): Promise<void> {
    if (this.handle === undefined) {
      try {
        this.handle = await open(this.walFile, 'r');
      } catch (error) {
        // No log yet: nothing was committed since the database was opened.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      // The log's own entry in its directory must survive a power cut too; once is enough.
      const directory = await open(dirname(this.walFile), 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    }
    await this.handle.sync();
  }
}
