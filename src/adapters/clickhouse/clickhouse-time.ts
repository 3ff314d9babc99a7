/*
 * DateTime64 is sent as text ('2026-11-26 10:00:00.123', read in the column's UTC): how an integer
 * is read into DateTime64 has changed between versions (seconds or ticks), text has not.
 */

/** One time as ClickHouse reads it from text: `YYYY-MM-DD hh:mm:ss.mmm`, UTC. */
export function toClickHouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}
