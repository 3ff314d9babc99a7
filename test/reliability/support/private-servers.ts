import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, openSync, closeSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/*
 * Private Redis and ClickHouse servers for outage tests: started by the test on free ports, stopped
 * and started again on the same data, and killed when the test process exits. The shared servers on
 * 6379 and 8123 (scripts/services.sh) are never touched: other test files use them in parallel.
 */

/** Every child still running when the test process exits is killed (by its pid, nothing broader). */
const children = new Set<ChildProcess>()
const alive = (child: ChildProcess | undefined): boolean =>
  child !== undefined && child.exitCode === null && child.signalCode === null

/** Remembered until it exits, so that whatever is left is killed when the test process ends. */
function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}
process.once('exit', () => {
  for (const child of children) if (alive(child)) child.kill('SIGKILL')
})

/** A port nobody listens on right now (the OS picks it; we close it at once and hand it over). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  child: ChildProcess,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}) before it answered:\n${log()}`,
      )
    if (Date.now() > deadline)
      throw new Error(`${what} did not answer within ${timeoutMs} ms:\n${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stopChild(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals,
  graceMs = 15_000,
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  // A frozen process (SIGSTOP) does not act on SIGTERM until it runs again.
  if (signal !== 'SIGKILL' && signal !== 'SIGSTOP') child.kill('SIGCONT')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** One round trip of the Redis protocol: true when the server answers PING with PONG. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (ok: boolean) => (socket.destroy(), resolve(ok))
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}

export interface PrivateServer {
  readonly port: number
  readonly url: string
  /** the server process, while it runs */
  readonly pid: number | undefined
  readonly running: boolean
  /** Starts it (again) on the same port and data; resolves once it answers. */
  start(): Promise<void>
  /** The outage: SIGTERM (a clean stop) or SIGKILL; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Stops it for good and removes its files. */
  dispose(): Promise<void>
}

/** `redis-server` on a free port, no persistence: a restart comes back empty, as a lost Redis does. */
export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  let output = ''
  const server: PrivateServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    get running() {
      return alive(child)
    },
    async start() {
      if (server.running) return
      output = ''
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      const started = track(child)
      started.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
      started.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
      await waitUntil(
        `redis-server on :${port}`,
        () => redisPing(port),
        started,
        () => output,
        15_000,
      )
    },
    stop: (signal = 'SIGKILL') => stopChild(child, signal),
    dispose: () => stopChild(child, 'SIGKILL'),
  }
  await server.start()
  return server
}

export interface PrivateClickHouse extends PrivateServer {
  /** SIGSTOP: the server holds every connection and answers nothing until `thaw()` */
  freeze(): void
  thaw(): void
  readonly dataDir: string
}

const CLICKHOUSE_BINARIES: Array<[string, string[]]> = [
  ['/usr/sbin/clickhouse-server', []],
  ['/usr/bin/clickhouse-server', []],
  ['/usr/bin/clickhouse', ['server']],
]

/*
 * The config of Debian's /etc/clickhouse-server (config.xml and users.xml), reduced to what a
 * private server needs and moved to its own ports and directory: HTTP, native TCP and interserver
 * ports only (no MySQL or other protocol ports), small caches, listening on 127.0.0.1 alone.
 * `<yandex>` is the root element 18.16 reads; current servers still accept it.
 */
function clickHouseConfig(
  dir: string,
  ports: { http: number; tcp: number; interserver: number },
): string {
  return `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>${dir}/log/clickhouse-server.log</log>
        <errorlog>${dir}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <http_port>${ports.http}</http_port>
    <tcp_port>${ports.tcp}</tcp_port>
    <interserver_http_port>${ports.interserver}</interserver_http_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>${dir}/data/</path>
    <tmp_path>${dir}/data/tmp/</tmp_path>
    <user_files_path>${dir}/data/user_files/</user_files_path>
    <format_schema_path>${dir}/data/format_schemas/</format_schema_path>
    <users_config>${dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mlock_executable>false</mlock_executable>
</yandex>
`
}

const USERS = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

async function clickHousePing(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/ping`, {
      signal: AbortSignal.timeout(1000),
    })
    return response.ok && (await response.text()).startsWith('Ok')
  } catch {
    return false
  }
}

/**
 * A ClickHouse server of the machine's own installation (Debian's 18.16 in CI) with a generated
 * config in a temporary directory, on free ports. It runs as the current user, root included (the
 * server allows it, and owning its own directory it needs no other user). Start takes about a
 * second; `stop()` then `start()` is an outage that keeps the data.
 */
export async function startPrivateClickHouse(): Promise<PrivateClickHouse> {
  const found = CLICKHOUSE_BINARIES.find(([path]) => existsSync(path))
  if (!found)
    throw new Error(
      `no ClickHouse server binary (looked for ${CLICKHOUSE_BINARIES.map(([p]) => p).join(', ')}); scripts/services.sh installs Debian's clickhouse-server`,
    )
  const [binary, prefix] = found
  const dir = await mkdtemp(join(tmpdir(), 'sluice-private-clickhouse-'))
  const ports = { http: await freePort(), tcp: await freePort(), interserver: await freePort() }
  await writeFile(join(dir, 'config.xml'), clickHouseConfig(dir, ports))
  await writeFile(join(dir, 'users.xml'), USERS)
  let child: ChildProcess | undefined
  const logFile = join(dir, 'stdout.log')
  const log = () => `(see ${logFile} and ${dir}/log)`

  const server: PrivateClickHouse = {
    port: ports.http,
    url: `http://127.0.0.1:${ports.http}`,
    dataDir: join(dir, 'data'),
    get pid() {
      return child?.pid
    },
    get running() {
      return alive(child)
    },
    async start() {
      if (server.running) return
      const out = openSync(logFile, 'a')
      child = spawn(binary, [...prefix, `--config-file=${join(dir, 'config.xml')}`], {
        cwd: dir,
        stdio: ['ignore', out, out],
      })
      closeSync(out)
      const started = track(child)
      await waitUntil(
        `clickhouse-server on :${ports.http}`,
        () => clickHousePing(ports.http),
        started,
        log,
        60_000,
      )
    },
    stop: (signal = 'SIGTERM') => stopChild(child, signal),
    freeze() {
      child?.kill('SIGSTOP')
    },
    thaw() {
      child?.kill('SIGCONT')
    },
    async dispose() {
      await stopChild(child, 'SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
  await server.start()
  return server
}
