// The Sluice console (GET /console). Two feeds, both from Sluice itself:
// - GET v1/status every REFRESH_MS (paused while the tab is hidden): the flow charts, routes, readiness;
// - one WebSocket subscription (API.md §4) for the live tail, reconnected after a restart.
// Plain ES module; uPlot draws the charts. Every number a chart shows is also written beside it as
// text (with a data-testid), which is what people copy and what the browser test reads.
import uPlot from './uplot/uPlot.esm.js'

const REFRESH_MS = Math.max(
  250,
  Number(new URLSearchParams(location.search).get('refresh')) || 2000,
)
const HISTORY_SECONDS = 300
/** events the tail shows, and holds while paused or hidden (the oldest are let go) */
const TAIL_MAX = 200
const KEY_ITEM = 'sluice.console.apiKey'
const RESULTS = ['accepted', 'duplicate', 'rejected', 'failed']
const COLORS = { accepted: '#1a7f37', duplicate: '#8250df', rejected: '#b35900', failed: '#c62828' }
const PALETTE = ['#0969da', '#bf3989', '#1b7c83', '#9a6700', '#57606a']

const $ = (selector) => document.querySelector(selector)
const testId = (id) => $(`[data-testid="${CSS.escape(id)}"]`)

// ---- the API key (when API_KEYS is set): for this tab only --------------------------------------

let apiKey = sessionStorage.getItem(KEY_ITEM) ?? ''
$('#forget-key').hidden = !apiKey

class KeyNeeded extends Error {}

async function api(path, init = {}) {
  const headers = { ...init.headers }
  if (apiKey) headers.authorization = `Bearer ${apiKey}`
  const response = await fetch(path, { ...init, headers })
  if (response.status === 401) {
    $('#key-form').hidden = false
    testId('key-error').textContent = apiKey ? 'That key was refused.' : ''
    throw new KeyNeeded()
  }
  return response
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault()
  apiKey = testId('key-input').value.trim()
  sessionStorage.setItem(KEY_ITEM, apiKey)
  $('#key-form').hidden = true
  $('#forget-key').hidden = false
  poll()
  reconnect()
})
$('#forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_ITEM)
  location.reload()
})

function badge(id, text, kind = '') {
  const el = testId(id)
  el.textContent = text
  el.className = `badge ${kind}`
}

// ---- polling GET v1/status ------------------------------------------------------------------------

let pollTimer
let polling = false
let previous
let wsPort

async function poll() {
  clearTimeout(pollTimer)
  // A hidden tab costs Sluice nothing but its one subscriber: polling resumes when it is shown.
  if (polling || document.visibilityState === 'hidden') return
  polling = true
  try {
    const response = await api('v1/status')
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    render(await response.json())
    badge('status-state', 'status: live', 'ok')
  } catch (error) {
    if (error instanceof KeyNeeded) return badge('status-state', 'key needed', 'bad')
    badge('status-state', 'status: unreachable', 'bad')
  } finally {
    polling = false
  }
  pollTimer = setTimeout(poll, REFRESH_MS)
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return
  poll()
  flushTail()
})

function render(status) {
  wsPort = status.ws.port ?? undefined
  testId('uptime').textContent = duration(status.uptimeSeconds)
  record(status)
  renderFlow(status)
  renderStuck(status)
  previous = status
}

// ---- flow: history of the last minutes, charts, numbers -----------------------------------------

const history = { time: [], series: new Map() }
const charts = new Map()

/** One point per poll: rates from the counters' change since the last answer, over the server's clock. */
function record(status) {
  const restarted =
    !previous || status.time <= previous.time || status.uptimeSeconds < previous.uptimeSeconds
  const seconds = restarted ? 0 : (status.time - previous.time) / 1000
  // the first answer, or the first after a restart: the server's own recent rates
  const rate = (now, before, recent) => (restarted ? recent : Math.max(0, now - before) / seconds)
  const point = {}
  for (const result of RESULTS)
    point[result] = rate(
      status.events.byResult[result],
      previous?.events.byResult[result],
      status.rates.byResult[result],
    )
  for (const [transport, total] of Object.entries(status.events.byTransport))
    point[`transport:${transport}`] = rate(
      total,
      previous?.events.byTransport[transport] ?? 0,
      status.rates.byTransport[transport] ?? 0,
    )
  const { ingestLagMs, insertMs } = status.latency
  Object.assign(point, {
    'lag p50': ingestLagMs.p50,
    'lag p99': ingestLagMs.p99,
    'insert p50': insertMs.p50,
    'insert p99': insertMs.p99,
    'in flight': status.inflight.events,
    'ws connections': status.ws.connections,
  })

  const length = history.time.length
  history.time.push(status.time / 1000)
  for (const [key, value] of Object.entries(point)) {
    if (!history.series.has(key)) history.series.set(key, new Array(length).fill(null))
    history.series.get(key).push(value)
  }
  for (const [key, values] of history.series) if (!(key in point)) values.push(null)
  while (history.time[0] < status.time / 1000 - HISTORY_SECONDS) {
    history.time.shift()
    for (const values of history.series.values()) values.shift()
  }
}

function renderFlow(status) {
  const transports = Object.keys(status.events.byTransport).sort()
  const rates = (key) => last(history.series.get(key))
  draw(
    'results',
    RESULTS.map((r) => ({ key: r, label: r, color: COLORS[r] })),
  )
  numbers(
    'results',
    ['', '/s', 'total'],
    RESULTS.map((r) => ({
      label: r,
      color: COLORS[r],
      cells: [
        [`rate-${r}`, rate(rates(r))],
        [`total-${r}`, status.events.byResult[r]],
      ],
    })),
  )
  const series = transports.map((t, i) => ({
    key: `transport:${t}`,
    label: t,
    color: PALETTE[i % PALETTE.length],
  }))
  draw('transports', series)
  numbers(
    'transports',
    ['', '/s', 'total'],
    series.map(({ key, label, color }) => ({
      label,
      color,
      cells: [
        [`rate-transport-${label}`, rate(rates(key))],
        [`total-transport-${label}`, status.events.byTransport[label]],
      ],
    })),
  )

  const { ingestLagMs, insertMs, windowSeconds } = status.latency
  draw('latency', [
    { key: 'lag p50', label: 'lag p50', color: '#0969da' },
    { key: 'lag p99', label: 'lag p99', color: '#54aeff' },
    { key: 'insert p50', label: 'insert p50', color: '#9a6700' },
    { key: 'insert p99', label: 'insert p99', color: '#d4a72c' },
  ])
  numbers(
    'latency',
    ['', 'p50', 'p99'],
    [
      { label: 'ingest lag', color: '#0969da', cells: ms('lag', ingestLagMs) },
      { label: 'insert', color: '#9a6700', cells: ms('insert', insertMs) },
      { label: `over ${windowSeconds} s`, cells: [] },
    ],
  )

  const { inflight, ws } = status
  draw('load', [
    { key: 'in flight', label: 'in flight', color: '#0969da' },
    { key: 'ws connections', label: 'ws connections', color: '#1b7c83' },
  ])
  numbers(
    'load',
    ['', 'now', 'bound'],
    [
      {
        label: inflight.paused ? 'in flight (paused)' : 'in flight',
        color: '#0969da',
        cells: [
          ['inflight', inflight.events],
          ['inflight-max', inflight.maxEvents],
        ],
      },
      { label: 'ws connections', color: '#1b7c83', cells: [['ws-connections', ws.connections]] },
      { label: 'subscribers', cells: [['ws-subscribers', ws.subscribers]] },
    ],
  )
}

const ms = (name, { p50, p99 }) => [
  [`${name}-p50`, p50 === null ? '–' : `${round(p50)} ms`],
  [`${name}-p99`, p99 === null ? '–' : `${round(p99)} ms`],
]
const round = (n) => (n < 10 ? Math.round(n * 10) / 10 : Math.round(n))
const rate = (n) => (n === null || n === undefined ? '–' : String(round(n)))
const last = (values) => values?.[values.length - 1] ?? null

/** (Re)draws one chart; a new series (a transport seen for the first time) builds it anew. */
function draw(name, series) {
  const el = $(`#chart-${name}`)
  const data = [history.time, ...series.map((s) => history.series.get(s.key) ?? [])]
  const keys = series.map((s) => s.key).join('\n')
  const chart = charts.get(name)
  if (chart?.keys === keys) return chart.plot.setData(data)
  chart?.plot.destroy()
  const options = {
    width: el.clientWidth,
    height: el.clientHeight,
    legend: { show: false },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 0)] } },
    axes: [{}, { size: 56 }],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        points: { show: false },
      })),
    ],
  }
  charts.set(name, { keys, plot: new uPlot(options, data, el) })
}

window.addEventListener('resize', () => {
  for (const [name, { plot }] of charts) {
    const el = $(`#chart-${name}`)
    plot.setSize({ width: el.clientWidth, height: el.clientHeight })
  }
})

/** The numbers beside a chart: one row per series, each cell with its data-testid. */
function numbers(name, head, rows) {
  const table = $(`#numbers-${name}`)
  table.replaceChildren(
    element('tr', {}, ...head.map((text) => element('th', {}, text))),
    ...rows.map(({ label, color, cells }) =>
      element(
        'tr',
        {},
        element(
          'td',
          {},
          color ? element('span', { className: 'swatch', style: { background: color } }) : '',
          label,
        ),
        ...cells.map(([id, value]) => element('td', { dataset: { testid: id } }, String(value))),
      ),
    ),
  )
}

function element(tag, { style, dataset, ...properties } = {}, ...children) {
  const el = Object.assign(document.createElement(tag), properties)
  Object.assign(el.style, style)
  Object.assign(el.dataset, dataset)
  el.append(...children)
  return el
}

// ---- stuck: routes, dead letters, readiness ------------------------------------------------------

const routeRows = new Map()

function renderStuck(status) {
  const { readiness, deadLetters } = status
  const ready = testId('readiness')
  ready.textContent = readiness.status
  ready.className = readiness.status === 'ready' ? 'ok' : 'bad'
  testId('readiness-checks').textContent = Object.entries(readiness.checks)
    .map(([name, c]) => `${name}: ${c.status} (${c.backend}${c.error ? `: ${c.error}` : ''})`)
    .join(' · ')

  const names = new Set([...status.routes.map((r) => r.name), ...Object.keys(deadLetters.byRoute)])
  $('#no-routes').hidden = names.size > 0
  for (const name of names) {
    const route = status.routes.find((r) => r.name === name)
    const row = routeRow(name, Boolean(route))
    const stored = deadLetters.byRoute[name] ?? 0
    row.cells.breaker.textContent = route?.breaker ?? 'not configured'
    row.cells.breaker.className = route?.breaker === 'closed' ? 'ok' : 'bad'
    row.cells.queued.textContent = route?.queued ?? '–'
    row.cells.delivered.textContent = route?.delivered ?? '–'
    row.cells.failures.textContent = route?.failures ?? '–'
    row.cells['dead-lettered'].textContent = route?.deadLettered ?? '–'
    row.cells['dead-letters'].textContent = `${stored}${deadLetters.truncated ? '+' : ''}`
    row.cells['dead-letters'].className = stored > 0 ? 'warn' : ''
  }
  testId('dead-letters-note').textContent = deadLetters.error
    ? `Dead letters could not be counted: ${deadLetters.error}`
    : deadLetters.truncated
      ? 'Only the newest dead letters were counted: the counts are lower bounds.'
      : ''
}

function routeRow(name, configured) {
  let row = routeRows.get(name)
  if (row) return row
  const columns = ['breaker', 'queued', 'delivered', 'failures', 'dead-lettered', 'dead-letters']
  const cells = Object.fromEntries(
    columns.map((c) => [
      c,
      element('td', {
        dataset: { testid: c === 'dead-letters' ? `dead-letters-${name}` : `route-${name}-${c}` },
      }),
    ]),
  )
  const result = element('span', {
    className: 'muted',
    dataset: { testid: `replay-result-${name}` },
  })
  const button = element(
    'button',
    { type: 'button', disabled: !configured, dataset: { testid: `replay-${name}` } },
    'Replay',
  )
  button.addEventListener('click', () => replay(name, button, result))
  const tr = element(
    'tr',
    {},
    element('td', {}, name),
    ...Object.values(cells),
    element('td', {}, button, ' ', result),
  )
  $('#routes').append(tr)
  routeRows.set(name, (row = { cells }))
  return row
}

async function replay(route, button, result) {
  button.disabled = true
  result.textContent = 'replaying…'
  try {
    const response = await api('v1/dead-letters/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route }),
    })
    const body = await response.json()
    result.textContent = response.ok ? `replayed ${body.replayed}` : body.error.message
  } catch (error) {
    result.textContent = error instanceof KeyNeeded ? 'key needed' : String(error)
  } finally {
    button.disabled = false
  }
}

// ---- events: the live tail over one WebSocket subscription, and a test event --------------------

let socket
let retries = 0
let reconnectTimer
let types = ['*']
let paused = false
const held = []
let letGo = 0

function connect() {
  clearTimeout(reconnectTimer)
  if (socket) return
  // the WS port is in the status; until it is read, or while Sluice is away, try again shortly
  if (wsPort === undefined) return void (reconnectTimer = setTimeout(connect, 500))
  const url = new URL(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`)
  url.port = String(wsPort)
  // browsers cannot set headers on a WebSocket: the key goes in the query (API.md §4)
  if (apiKey) url.searchParams.set('api_key', apiKey)
  const ws = new WebSocket(url)
  socket = ws
  badge('ws-state', 'tail: connecting')
  ws.onopen = () => {
    retries = 0
    badge('ws-state', 'tail: live', 'ok')
    ws.send(JSON.stringify({ op: 'subscribe', types }))
  }
  ws.onmessage = (message) => onMessage(JSON.parse(message.data))
  ws.onclose = () => {
    if (socket !== ws) return
    socket = undefined
    badge('ws-state', 'tail: reconnecting', 'bad')
    // after a restart the port may have changed: by then the status polled since says so
    reconnectTimer = setTimeout(connect, Math.min(10_000, 250 * 2 ** retries++))
  }
}

function reconnect() {
  const old = socket
  socket = undefined
  old?.close()
  retries = 0
  connect()
}

function onMessage(message) {
  if (message.op === 'event') return onEvent(message.event)
  if (message.op === 'subscribed') note(`subscribed to ${message.types.join(' ')}`)
  if (message.op === 'error') {
    note(`${message.code}: ${message.message}`)
    // dropped for reading too slowly (§4): the connection stays; subscribe again a little later
    if (message.code === 'subscriber_too_slow') setTimeout(subscribe, 1000)
  }
}

function subscribe() {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: 'subscribe', types }))
}

function onEvent(event) {
  if (!paused && document.visibilityState === 'visible') return show(event)
  held.push(event)
  if (held.length > TAIL_MAX) {
    held.shift()
    letGo++
  }
  note(
    `${held.length} held${letGo ? `, ${letGo} let go` : ''} while ${paused ? 'paused' : 'hidden'}`,
  )
}

function flushTail() {
  if (paused || document.visibilityState !== 'visible') return
  for (const event of held.splice(0)) show(event)
  if (letGo) note(`${letGo} events were let go while paused`)
  letGo = 0
}

function show(event) {
  const summary = element(
    'summary',
    {},
    `${event.receivedAt?.slice(11, 23) ?? ''}  ${event.type}  ${event.id}  ${event.transport ?? ''}`,
  )
  const item = element(
    'li',
    { dataset: { id: event.id, testid: 'tail-event' } },
    element('details', {}, summary, element('pre', {}, JSON.stringify(event, null, 2))),
  )
  const tail = $('#tail')
  tail.prepend(item)
  while (tail.children.length > TAIL_MAX) tail.lastElementChild.remove()
}

function note(text) {
  testId('tail-note').textContent = text
}

$('#tail-form').addEventListener('submit', (e) => {
  e.preventDefault()
  types = testId('tail-types')
    .value.split(/[\s,]+/)
    .filter(Boolean)
  subscribe()
})
$('#tail-pause').addEventListener('click', (e) => {
  paused = !paused
  e.target.textContent = paused ? 'Resume' : 'Pause'
  if (paused) note('paused')
  else flushTail()
})
$('#tail-clear').addEventListener('click', () => $('#tail').replaceChildren())

$('#send-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const form = new FormData(e.target)
  const out = testId('send-result')
  const event = { type: form.get('type').trim() }
  const id = form.get('id').trim()
  if (id) event.id = id
  const properties = form.get('properties').trim()
  try {
    if (properties) event.properties = JSON.parse(properties)
  } catch (error) {
    return void (out.textContent = `properties are not JSON: ${error.message}`)
  }
  out.textContent = 'sending…'
  try {
    const response = await api('v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    })
    out.textContent = `${response.status} ${JSON.stringify(await response.json(), null, 2)}`
  } catch (error) {
    out.textContent = error instanceof KeyNeeded ? 'key needed' : String(error)
  }
})

function duration(seconds) {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0
    ? `${h}h ${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m ${String(s).padStart(2, '0')}s`
      : `${s}s`
}

poll()
connect()
