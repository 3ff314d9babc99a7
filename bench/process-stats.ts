import { readFileSync, writeFileSync } from 'node:fs'

/** What Linux says of a process: its peak and current resident memory, and the CPU it has used. */
export interface ProcessStats {
  readonly peakRssBytes: number
  readonly rssBytes: number
  readonly cpuSeconds: number
}

const TICKS_PER_SECOND = 100 // CLK_TCK on Linux x86_64

export function processStats(pid: number): ProcessStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  // /proc/<pid>/stat: fields 14 and 15 (utime, stime) after the parenthesised command name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS'), cpuSeconds }
}

/** Resets the peak RSS (VmHWM) to the current RSS, so a scenario measures its own peak. */
export function resetPeak(pid: number): void {
  try {
    // Writing 5 to clear_refs resets the peak resident set size (Linux >= 4.0).
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
  } catch {
    // not permitted: the peak then covers the process's whole life
  }
}
