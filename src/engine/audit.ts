/**
 * The audit trail of a run is its journal: `verifyRun` proves the hash chain intact or names the first bad
 * record; `exportRun` gives every record as one JSON line, with its hash, so anyone can re-check it.
 */
import { runNotFound } from '../errors.ts';
import { verifyChain } from '../store/chain.ts';
import type { ChainReport } from '../store/chain.ts';
import type { RunStore } from '../store/store.ts';

async function runOrThrow(store: RunStore, runId: string) {
  const run = await store.getRun(runId);
  if (run === undefined) {
    throw runNotFound(runId);
  }
  return run;
}

export async function verifyRun(store: RunStore, runId: string): Promise<ChainReport & { runId: string }> {
  const run = await runOrThrow(store, runId);
  return { runId, ...verifyChain(run, await store.readJournal(runId)) };
}

/** One JSON object per line: seq, at, type, step, actor, data, prevHash, hash. */
export async function* exportRun(store: RunStore, runId: string): AsyncGenerator<string> {
  await runOrThrow(store, runId);
  for (const record of await store.readJournal(runId)) {
    yield JSON.stringify({
      run: record.runId,
      seq: record.seq,
      at: record.at.toISOString(),
      type: record.type,
      step: record.step ?? null,
      actor: record.actor,
      data: record.data,
      prevHash: record.prevHash,
      hash: record.hash,
    });
  }
}
