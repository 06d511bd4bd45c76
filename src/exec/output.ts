/** Keeps the head and the tail of a stream, dropping the middle once the limit is reached. */
export class CappedOutput {
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer = Buffer.alloc(0);
  #total = 0;
  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const half = this.limit / 2;
    if (this.#headBytes < half) {
      const take = chunk.subarray(0, half - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length > 0) {
      const joined = Buffer.concat([this.#tail, chunk]);
      this.#tail = joined.subarray(Math.max(0, joined.length - half));
    }
  }

  text(): string {
    const head = Buffer.concat(this.#head).toString('utf8');
    const kept = this.#headBytes + this.#tail.length;
    if (kept >= this.#total) return head + this.#tail.toString('utf8');
    return `${head}\n… [${this.#total - kept} bytes cut] …\n${this.#tail.toString('utf8')}`;
  }
}

export const DEFAULT_OUTPUT_LIMIT = 64 * 1024;
