import type { Cluster, Redis } from 'ioredis'
import { defer } from 'rxjs'
import type { AcceptedEvent } from '../../streams/event.js'
import type { OutboxEntry, RouteOutbox } from '../../streams/routing/ports.js'

export interface RedisRouteOutboxOptions {
  /**
   * A connected client; the outbox never creates or closes it. On a Cluster every command touches
   * one stream (one key, one slot), so each route's stream lives on whichever primary owns it and
   * routes spread over the cluster; only appends are grouped, one pipeline per stream.
   */
  readonly redis: Redis | Cluster
  /**
   * This instance's name in the consumer groups: unique among live instances, and the same across
   * a restart (a hostname, a pod name), so that a restarted instance re-reads at once what it held.
   */
  readonly consumer: string
  /** `sluice:route:<name>` */
  readonly keyPrefix?: string
  readonly group?: string
  /** an entry not touched for this long (its holder crashed) is taken over by whoever reads next (default 60000) */
  readonly claimIdleMs?: number
  /**
   * After each append, wait (`WAIT 1 <ms>`) up to this long for a replica to have it, so that a
   * primary's failover right after the ack does not lose what it had not passed on (replication is
   * asynchronous). Best effort: an append no replica confirmed in time stands (failing it instead
   * sends its events to the router's in-memory fallback, which a crash loses, and measured worse in
   * the many-instances test). Default 1000 on a Cluster, 0 (no WAIT) on one Redis.
   */
  readonly replicaWaitMs?: number
}

export interface RedisRouteOutbox extends RouteOutbox {
  /** Stops touching held entries: after claimIdleMs any instance may take them over. */
  close(): void
}

type StreamEntry = [id: string, fields: string[] | null]

interface RouteState {
  readonly key: string
  /** where reading our own pending entries (held before a restart) has got to; undefined once done */
  own: string | undefined
  claimCursor: string
  lastSweep: number
  /** read and not yet acked or released: touched so that no one takes them over */
  readonly held: Set<string>
}

/**
 * The outbox as one Redis Stream per route with one consumer group (`sluice`) shared by every
 * instance: XADD when committed (before the ack), XREADGROUP to take work, XACK + XDEL once delivered
 * or dead-lettered. Entries a process held when it died stay in the group's pending list: the same
 * consumer re-reads them at start (XREADGROUP from 0), any other takes them over once idle
 * (XAUTOCLAIM). While held, entries are touched (XCLAIM … JUSTID to ourselves resets their idle
 * time) so that a slow but live route is not taken over. Reads never block: the router reads on
 * appends, on settles and on a poll, so one connection serves every route.
 */
export function createRedisRouteOutbox(options: RedisRouteOutboxOptions): RedisRouteOutbox {
  const {
    redis,
    consumer,
    keyPrefix = 'sluice:route:',
    group = 'sluice',
    claimIdleMs = 60_000,
    replicaWaitMs = redis.isCluster ? 1000 : 0,
  } = options
  const routes = new Map<string, RouteState>()
  const stateOf = (route: string) => {
    let state = routes.get(route)
    if (!state)
      routes.set(
        route,
        (state = {
          key: keyPrefix + route,
          own: '0',
          claimCursor: '0-0',
          lastSweep: 0,
          held: new Set(),
        }),
      )
    return state
  }

  async function createGroup(key: string) {
    try {
      // From 0: a stream appended to before the group existed is delivered whole.
      await redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error
    }
  }

  function parse(entries: StreamEntry[]): { live: OutboxEntry[]; gone: string[] } {
    const live: OutboxEntry[] = []
    const gone: string[] = []
    for (const [id, fields] of entries) {
      const at = fields?.indexOf('e') ?? -1
      // An entry deleted while pending comes back without fields: nothing is left to deliver.
      if (!fields || at < 0) gone.push(id)
      else live.push({ receipt: id, event: JSON.parse(fields[at + 1]!) as AcceptedEvent })
    }
    return { live, gone }
  }

  async function readGroup(state: RouteState, max: number, from: string): Promise<StreamEntry[]> {
    return entriesOf(
      await redis.call(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        max,
        'STREAMS',
        state.key,
        from,
      ),
    )
  }

  async function readOwn(state: RouteState, max: number): Promise<OutboxEntry[]> {
    const entries = await readGroup(state, max, state.own!)
    if (entries.length === 0) {
      state.own = undefined
      return []
    }
    state.own = entries[entries.length - 1]![0]
    const { live, gone } = parse(entries)
    if (gone.length > 0) await redis.xack(state.key, group, ...gone)
    return live
  }

  /** One step of a sweep over the whole pending list; a new sweep starts claimIdleMs / 2 after the last ended. */
  async function claimIdle(state: RouteState, max: number): Promise<OutboxEntry[]> {
    const [next, claimed] = (await redis.call(
      'XAUTOCLAIM',
      state.key,
      group,
      consumer,
      claimIdleMs,
      state.claimCursor,
      'COUNT',
      max,
    )) as [string, StreamEntry[]]
    state.claimCursor = next
    if (next === '0-0') state.lastSweep = Date.now()
    const { live, gone } = parse(claimed)
    if (gone.length > 0) await redis.xack(state.key, group, ...gone)
    return live
  }

  // Touch what we hold a few times per claimIdleMs; a failed beat is made up by the next one.
  const heartbeat = setInterval(
    () => void touch().catch(() => undefined),
    Math.max(10, Math.floor(claimIdleMs / 3)),
  )
  heartbeat.unref()
  async function touch() {
    for (const state of routes.values()) {
      const ids = [...state.held]
      for (let i = 0; i < ids.length; i += 1000)
        await redis.call(
          'XCLAIM',
          state.key,
          group,
          consumer,
          0,
          ...ids.slice(i, i + 1000),
          'JUSTID',
        )
    }
  }

  return {
    open(names: readonly string[]) {
      return defer(async () => {
        for (const name of names) await createGroup(stateOf(name).key)
      })
    },

    append(entries) {
      return defer(async () => {
        // One pipeline, or on a Cluster one per stream: a cluster pipeline must stay on one node.
        const pipelines = new Map<string, ReturnType<typeof redis.pipeline>>()
        const pipelineOf = (key: string) => {
          const name = redis.isCluster ? key : ''
          let pipeline = pipelines.get(name)
          if (!pipeline) pipelines.set(name, (pipeline = redis.pipeline()))
          return pipeline
        }
        // An event most routes match is serialized once, not once per route.
        const json = new Map<AcceptedEvent, string>()
        const text = (event: AcceptedEvent) =>
          json.get(event) ?? (json.set(event, JSON.stringify(event)), json.get(event)!)
        for (const { route, events } of entries) {
          const key = stateOf(route).key
          const pipeline = pipelineOf(key)
          for (const event of events) pipeline.xadd(key, '*', 'e', text(event))
        }
        // Keyless, WAIT goes where the pipeline's stream went: its primary.
        if (replicaWaitMs > 0)
          for (const pipeline of pipelines.values()) pipeline.call('WAIT', 1, replicaWaitMs)
        const replies = await Promise.all([...pipelines.values()].map((p) => p.exec()))
        const failed = replies.flat().find((result) => result?.[0])?.[0]
        if (failed) throw failed
      })
    },

    read(route: string, max: number) {
      return defer(async () => {
        const state = stateOf(route)
        const out: OutboxEntry[] = []
        const take = (entries: OutboxEntry[]) => {
          for (const entry of entries) {
            if (state.held.has(entry.receipt)) continue
            state.held.add(entry.receipt)
            out.push(entry)
          }
        }
        try {
          while (state.own !== undefined && out.length < max)
            take(await readOwn(state, max - out.length))
          if (out.length < max && Date.now() - state.lastSweep >= claimIdleMs / 2)
            take(await claimIdle(state, max - out.length))
          if (out.length < max) take(parse(await readGroup(state, max - out.length, '>')).live)
        } catch (error) {
          // The stream or its group is gone (a FLUSHALL, a failover to an empty replica): make it again.
          if (String((error as Error).message).startsWith('NOGROUP')) await createGroup(state.key)
          // Entries already taken are held now: hand them over, the next read reports the error again.
          else if (out.length === 0) throw error
        }
        return out
      })
    },

    ack(route: string, receipts: readonly string[]) {
      return defer(async () => {
        const state = stateOf(route)
        // XDEL too: acked entries would otherwise stay in the stream for ever.
        const results = await redis
          .multi()
          .xack(state.key, group, ...receipts)
          .xdel(state.key, ...receipts)
          .exec()
        const failed = results?.find(([error]) => error)?.[0]
        if (failed) throw failed
        for (const receipt of receipts) state.held.delete(receipt)
      })
    },

    release(route: string, receipts: readonly string[]) {
      const state = stateOf(route)
      for (const receipt of receipts) state.held.delete(receipt)
    },

    close() {
      clearInterval(heartbeat)
    },
  }
}

/**
 * The entries of a one-stream XREADGROUP reply, in whichever shape the client was set to: RESP2
 * `[[key, entries]]`; RESP3 (ioredis 6's default) a map, which its "legacy" mapping flattens to
 * `[key, entries]` and its "resp3" mapping makes an object `{ key: entries }`; null when empty.
 */
function entriesOf(reply: unknown): StreamEntry[] {
  if (reply === null || typeof reply !== 'object') return []
  if (!Array.isArray(reply)) return (Object.values(reply)[0] as StreamEntry[] | undefined) ?? []
  const first: unknown = reply[0]
  if (typeof first === 'string' || Buffer.isBuffer(first))
    return (reply[1] as StreamEntry[] | undefined) ?? []
  return (first as [unknown, StreamEntry[]] | undefined)?.[1] ?? []
}
