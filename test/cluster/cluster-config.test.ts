import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/app/config.js'
import { clusterSchema } from '../../src/adapters/clickhouse/clickhouse-schema.js'
import { primaryTags, slotOf, tagOfSlot } from '../../src/adapters/redis/cluster-slots.js'

// Pure: runs in npm test too (no cluster needed).

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env)
    return []
  } catch (error) {
    return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`)
  }
}

describe('cluster configuration (API.md §6, §11)', () => {
  it('reads REDIS_CLUSTER_NODES as a list of host:port seeds', () => {
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' }).REDIS_CLUSTER_NODES,
    ).toEqual(['10.0.0.1:7000', 'redis-b:7001'])
  })

  it('refuses seeds that are not host:port, and REDIS_CLUSTER_NODES beside REDIS_URL', () => {
    expect(problems({ REDIS_CLUSTER_NODES: 'redis-a' })[0]).toMatch(/^REDIS_CLUSTER_NODES: /)
    expect(problems({ REDIS_CLUSTER_NODES: 'a:70000' })[0]).toMatch(/^REDIS_CLUSTER_NODES: /)
    expect(
      problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://127.0.0.1:6379' }),
    ).toEqual(['REDIS_CLUSTER_NODES: is instead of REDIS_URL: set one of them'])
  })

  it('takes CLICKHOUSE_CLUSTER as a plain identifier, with a server to reach it through', () => {
    expect(
      loadConfig({ CLICKHOUSE_CLUSTER: 'events_2x2', CLICKHOUSE_URL: 'http://ch:8123' })
        .CLICKHOUSE_CLUSTER,
    ).toBe('events_2x2')
    expect(problems({ CLICKHOUSE_CLUSTER: 'a b', CLICKHOUSE_URL: 'http://ch:8123' })[0]).toMatch(
      /^CLICKHOUSE_CLUSTER: /,
    )
    expect(problems({ CLICKHOUSE_CLUSTER: 'events' })[0]).toMatch(
      /^CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL/,
    )
  })
})

describe('cluster slots', () => {
  it('computes the slots CLUSTER KEYSLOT gives (Redis 7.0), hash tags included', () => {
    expect([slotOf('a'), slotOf('b'), slotOf('c'), slotOf('k1')]).toEqual([
      15495, 3300, 7365, 12706,
    ])
    expect(slotOf('x{a}y')).toBe(15495)
    // An empty tag is no tag: the whole key counts.
    expect(slotOf('{}a')).not.toBe(slotOf('a'))
  })

  it('finds a hash tag for every slot, and names each primary by its first slot', () => {
    for (const slot of [0, 1, 5460, 8000, 16383]) expect(slotOf(`k{${tagOfSlot(slot)}}`)).toBe(slot)
    const slots = Array.from({ length: 16384 }, (_, slot) => [
      slot < 5461 ? 'a:1' : slot < 10923 ? 'b:2' : 'c:3',
    ])
    const tags = primaryTags({ slots })
    expect([...tags.keys()]).toEqual(['a:1', 'b:2', 'c:3'])
    expect(slotOf(`{${tags.get('b:2')}}`)).toBe(5461)
  })
})

describe('the cluster schema', () => {
  it('puts the local tables on every shard under Distributed tables sharded by id (events) and route (dead letters)', () => {
    const schema = clusterSchema('events', 'raw_events', 'epoch-ms', 'main')
    expect(schema.database).toBe('CREATE DATABASE IF NOT EXISTS `events` ON CLUSTER `main`')
    expect(schema.events[0]).toMatch(
      /^CREATE TABLE IF NOT EXISTS `events`\.`raw_events_local` ON CLUSTER `main` \([\s\S]+\) ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/events\/raw_events_local', '\{replica\}'\) ORDER BY \(id\)$/,
    )
    expect(schema.events[1]).toBe(
      'CREATE TABLE IF NOT EXISTS `events`.`raw_events` ON CLUSTER `main` AS `events`.`raw_events_local` ENGINE = Distributed(`main`, `events`, `raw_events_local`, cityHash64(id))',
    )
    expect(schema.deadLetters[1]).toMatch(
      /Distributed\(`main`, `events`, `dead_letters_local`, cityHash64\(route\)\)$/,
    )
  })
})
