import { describe, expect, it } from 'vitest'
import { createOutboundMailbox } from '../../../src/adapters/ws/outbound-mailbox.js'

function mailbox() {
  const sent: string[] = []
  let runs = 0
  const box = createOutboundMailbox(
    (text) => sent.push(text),
    (run) => (runs++, run()),
  )
  return { box, sent, runs: () => runs }
}

describe('outbound mailbox', () => {
  it('sends replies in slot order when later slots are filled first', () => {
    const { box, sent } = mailbox()
    const [one, two, three, four] = [box.reserve(), box.reserve(), box.reserve(), box.reserve()]
    three('3')
    four('4')
    expect(sent).toEqual([])
    one('1')
    expect(sent).toEqual(['1'])
    two('2')
    expect(sent).toEqual(['1', '2', '3', '4'])
    expect(box.pending).toBe(0)
  })

  it('sends a reply that is ready at once as soon as every slot before it is sent', () => {
    const { box, sent } = mailbox()
    box.reserve()('1')
    expect(sent).toEqual(['1'])
    const later = box.reserve()
    box.reserve()('pong')
    expect(sent).toEqual(['1'])
    expect(box.pending).toBe(2)
    later('ack')
    expect(sent).toEqual(['1', 'ack', 'pong'])
  })

  it('runs a reply’s effect right after the reply is sent, never before', () => {
    const { box, sent } = mailbox()
    const order: string[] = []
    const first = box.reserve()
    box.reserve()('subscribed', () => order.push(`effect after ${sent.join(',')}`))
    expect(order).toEqual([])
    first('ack')
    expect(order).toEqual(['effect after ack,subscribed'])
  })

  it('sends a run of ready replies inside one sendMany (one corked write)', () => {
    const { box, runs } = mailbox()
    const fills = Array.from({ length: 5 }, () => box.reserve())
    for (const fill of fills.slice(1)) fill('x')
    const before = runs()
    fills[0]!('x')
    expect(runs() - before).toBe(1)
  })

  it('forgets unsent replies on clear, and ignores slots filled afterwards', () => {
    const { box, sent } = mailbox()
    const first = box.reserve()
    const second = box.reserve()
    second('2')
    box.clear()
    first('1')
    expect(sent).toEqual([])
    expect(box.pending).toBe(0)
    box.reserve()('3')
    expect(sent).toEqual(['3'])
  })

  it('refuses to fill a slot twice', () => {
    const { box } = mailbox()
    const slot = box.reserve()
    slot('a')
    expect(() => slot('b')).toThrow(/filled twice/)
  })

  it('sends every one of 10,000 replies filled in order, leaving nothing pending', () => {
    const { box, sent } = mailbox()
    const slots: Array<(text: string) => void> = []
    for (let i = 0; i < 10_000; i++) slots.push(box.reserve())
    for (let i = 0; i < 10_000; i++) slots[i]!(String(i))
    expect(sent).toHaveLength(10_000)
    expect(box.pending).toBe(0)
  })
})
