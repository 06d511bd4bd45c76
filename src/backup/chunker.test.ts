import { createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_MAX, CHUNK_MIN, chunksOf, cutPoint } from './chunker.ts';
import { tempDir } from '../providers/files/testing.ts';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir('chunker');
});
afterEach(async () => {
  await tmp.remove();
});

/** The same pseudo-random bytes on every run (AES-CTR of zeros under a fixed key). */
function fixedBytes(length: number, seed: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

function cutInMemory(data: Buffer): number[] {
  const sizes: number[] = [];
  for (let start = 0; start < data.length;) {
    const size = cutPoint(data.subarray(start), true);
    sizes.push(size);
    start += size;
  }
  return sizes;
}

describe('content-defined chunking', () => {
  it('cuts a file read in windows exactly where it cuts the same bytes held in memory', async () => {
    const data = randomBytes(40 << 20);
    const file = join(tmp.path, 'big.bin');
    await writeFile(file, data);
    const fd = openSync(file, 'r');
    const sizes: number[] = [];
    try {
      for (const chunk of chunksOf(fd, data.length)) sizes.push(chunk.length);
    } finally {
      closeSync(fd);
    }
    expect(sizes).toEqual(cutInMemory(data));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const size of sizes.slice(0, -1)) {
      expect(size).toBeGreaterThanOrEqual(CHUNK_MIN);
      expect(size).toBeLessThanOrEqual(CHUNK_MAX);
    }
  });

  it('keeps every cut after an insertion, once past the chunk it falls in', () => {
    const data = fixedBytes(24 << 20, 1);
    const before = cutInMemory(data);
    const changed = Buffer.concat([data.subarray(0, 100), fixedBytes(4096, 2), data.subarray(100)]);
    const after = cutInMemory(changed);
    // The first chunk grows by the insertion; every later chunk is the same (fixed bytes: no luck involved).
    expect(after[0]).toBe((before[0] ?? 0) + 4096);
    expect(after.slice(1)).toEqual(before.slice(1));
  });
});
