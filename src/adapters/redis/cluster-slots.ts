import type { Cluster } from 'ioredis'

/*
 * Slots of a Redis Cluster, as the cluster spec defines them: CRC16 (XMODEM) of the key, or of its
 * hash tag (the text between the first `{` and the next `}`, when not empty), modulo 16384. The
 * same function as the `cluster-key-slot` package ioredis routes with; ours so that Sluice declares
 * no package it does not install itself.
 */
export const SLOTS = 16384

const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : crc << 1
  TABLE[i] = crc & 0xffff
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!
  return crc
}

const encoder = new TextEncoder()

/** The slot of a key (CLUSTER KEYSLOT). */
export function slotOf(key: string): number {
  const bytes = encoder.encode(key)
  const open = bytes.indexOf(0x7b) // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close > open + 1) return crc16(bytes, open + 1, close) % SLOTS
  }
  return crc16(bytes, 0, bytes.length) % SLOTS
}

/*
 * A hash tag per slot: the shortest base-36 text whose slot it is, found by counting up once for
 * all slots asked so far (about 170,000 CRCs to know every slot; a node's first slot costs a few
 * thousand). Keys `prefix{tag}…` then live in that slot, whatever follows.
 */
const tags = new Array<string | undefined>(SLOTS)
let nextCandidate = 0

export function tagOfSlot(slot: number): string {
  while (tags[slot] === undefined) {
    const candidate = (nextCandidate++).toString(36)
    const at = slotOf(candidate)
    tags[at] ??= candidate
  }
  return tags[slot]
}

/**
 * The primaries as the client's slot map has them now, each with the hash tag of its first slot:
 * keys that name it (`…{tag}…`) are on that primary. Every process with the same map names the same
 * tag for a primary, and a replica promoted in its place owns the same slots, hence the same tag.
 */
export function primaryTags(cluster: Pick<Cluster, 'slots'>): Map<string, string> {
  const out = new Map<string, string>()
  const slots = cluster.slots
  for (let slot = 0; slot < SLOTS; slot++) {
    const primary = slots[slot]?.[0]
    if (primary !== undefined && !out.has(primary)) out.set(primary, tagOfSlot(slot))
  }
  return out
}

/** The primary that owns `key` in the client's slot map (undefined while the map is not known). */
export function primaryOf(cluster: Pick<Cluster, 'slots'>, key: string): string | undefined {
  return cluster.slots[slotOf(key)]?.[0]
}

/**
 * Resolves once the client has a slot map (it is ready), or after `timeoutMs` without one: every
 * key's node and tag is read from that map, and a guess made before it would name the wrong ones.
 */
export async function slotMapKnown(cluster: Cluster, timeoutMs = 5000): Promise<boolean> {
  if (cluster.status === 'ready' && cluster.slots.length > 0) return true
  if (cluster.status === 'end' || cluster.status === 'close') return false
  return new Promise<boolean>((resolve) => {
    const done = (known: boolean) => {
      clearTimeout(timer)
      cluster.off('ready', ready)
      resolve(known)
    }
    const ready = () => done(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    cluster.once('ready', ready)
  })
}
