// Runs async functions one at a time per key, in the order they were asked for.
const ignore = (): void => undefined;

export class Turns {
  /** Per key, a promise that settles once the last function asked for with that key has settled. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `operation` once every function asked for earlier with the same `key` has settled. */
  run<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(operation);
    const tail = result.then(ignore, ignore);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
