// A TRANSFORMS_MODULE with a bug the transform stage cannot contain (issue 13.3): on `crash.*`
// events its operator throws while the stage builds the event's chain — not inside that chain,
// where a throw is the event's own `rejected` — so the pipeline's own operator errors and the
// supervisor restarts the chain with other clients' events in flight.
export default [
  (source) => {
    let type
    source.subscribe((event) => (type = event.type)).unsubscribe()
    if (type?.startsWith('crash.')) throw new Error('a transform broke the chain')
    return source
  },
]
