/**
 * Node processes for the testnet, the demo and the fault scenarios: each
 * node runs `cairn node start` in its own child process, so it can be killed
 * with SIGKILL and restarted like a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync, openSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname

export interface NodeProcess {
  dir: string
  proc: ChildProcess
  url: string
  operatorToken: string
  exited: Promise<number | null>
}

/**
 * Starts `cairn node start --dir` and resolves once its API answers. Output
 * goes to <dir>/node.log. With `netns`, inside that network namespace
 * (`ip netns exec` execs the node in place: the child is the node itself).
 */
export async function spawnNode(dir: string, opts: { timeoutMs?: number; env?: Record<string, string>; netns?: string } = {}): Promise<NodeProcess> {
  rmSync(join(dir, 'node.url'), { force: true })
  const log = openSync(join(dir, 'node.log'), 'a')
  const argv = [process.execPath, '--import', 'tsx', join(root, 'cli/main.ts'), 'node', 'start', '--dir', dir]
  if (opts.netns) argv.unshift('ip', 'netns', 'exec', opts.netns)
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    stdio: ['ignore', log, log],
    env: { ...process.env, CAIRN_LOG_LEVEL: process.env.CAIRN_LOG_LEVEL ?? 'warn', ...opts.env },
  })
  let how: string | undefined
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, signal) => { how = `exit code ${code}, signal ${signal}`; resolve(code) }))
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (how !== undefined) throw new Error(`node in ${dir} died while starting (${how}); the end of its log:\n${logTail(dir)}`)
    if (existsSync(join(dir, 'node.url'))) {
      const url = readFileSync(join(dir, 'node.url'), 'utf8').trim()
      try {
        const r = await fetch(`${url}/logs`)
        if (r.ok) return { dir, proc, url, operatorToken: readFileSync(join(dir, 'operator.token'), 'utf8').trim(), exited }
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  proc.kill('SIGKILL')
  throw new Error(`node in ${dir} did not start within ${opts.timeoutMs ?? 60_000} ms; the end of its log:\n${logTail(dir)}`)
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'node.log'), 'utf8').split('\n').slice(-25).join('\n')
  } catch {
    return '(no log)'
  }
}

/** SIGTERM (clean stop) or SIGKILL; resolves when the process is gone. */
export async function stopNode(n: NodeProcess, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', timeoutMs = 20_000): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return
  n.proc.kill(signal)
  const t = setTimeout(() => n.proc.kill('SIGKILL'), timeoutMs)
  await n.exited
  clearTimeout(t)
}

/** Calls a node's API as JSON with a token. */
export async function call<T>(url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text.slice(0, 300)}`)
  return (r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T
}
