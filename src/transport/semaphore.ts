/** Counts permits; waiters are served first come, first served. */
export class Semaphore {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`a semaphore needs a limit of at least 1, not ${limit}`);
  }

  /** Resolves with the function that gives the permit back (calling it twice gives it back once). */
  async acquire(): Promise<() => void> {
    if (this.used < this.limit) this.used++;
    // The releaser hands its permit straight to us, so `used` stays counted and nobody can jump the queue.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    };
  }

  /** Permits in use now. */
  get inUse(): number {
    return this.used;
  }
}
