import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Makes this process the one owner of `dir` (a journal read by two processes would deliver every
 * entry twice and interleave their appends): `owner.pid` names the owner. A file left by a process
 * that is gone (kill -9) is taken over; one naming a live other process refuses. In embedded mode
 * chDB already locks DATA_DIR; this also covers server mode without Redis, where nothing else does.
 */
export async function lockDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'owner.pid')
  for (let tries = 0; ; tries += 1) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 3) throw error
    }
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim())
    if (owner !== process.pid && isAlive(owner))
      throw new Error(`${dir} belongs to process ${owner} (${file}): one process owns a DATA_DIR`)
    await unlink(file).catch(() => undefined)
  }
}

/** Releases the lock only if it is still this process's. */
export async function unlockDirectory(dir: string): Promise<void> {
  const file = join(dir, 'owner.pid')
  const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim())
  if (owner === process.pid) await unlink(file).catch(() => undefined)
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
