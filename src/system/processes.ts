/**
 * What Linux tells about a process through /proc, shared by everything that starts, watches or stops
 * processes (the process supervisor, PostgreSQL servers, the state store's run lock). Where /proc is
 * missing the answers fall back to `kill(pid, 0)`.
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R running, S sleeping, D disk wait, T stopped (SIGSTOP), Z zombie, X dead. */
  state: string;
  /** Process group id. */
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, it tells a process from a later one with its pid. */
  startTicks: string;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name may hold spaces and parentheses; the fields after its last ')' are fixed
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, , pgrp] = fields;
  const ticks = fields[19];
  if (state === undefined || pgrp === undefined || ticks === undefined) return undefined;
  return { state, pgrp: Number(pgrp), startTicks: ticks };
}

/** Alive and not a zombie: an init that does not reap leaves zombies that `kill(pid, 0)` still counts. */
export function processAlive(pid: number): boolean {
  const state = procStat(pid)?.state;
  if (state !== undefined) return state !== 'Z' && state !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stopped by SIGSTOP (or a debugger): it holds its sockets and files but acts on no signal but SIGKILL/SIGCONT. */
export function processFrozen(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state === 'T' || state === 't';
}

/** Sends `signal` to every process of a group; a group with nothing left in it is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    // ESRCH: nothing left in the group, which is what we wanted
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
