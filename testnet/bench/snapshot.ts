/**
 * snapshot_10m_s: seconds to stream the whole current set to a provider:
 * GET /feed/snapshot (default format, jsonl) from a node process holding the
 * `big` fixture (10M live indicators at scale 1), read to the end by one
 * client without keeping it. The last line must be the cursor line with the
 * expected count, or the run fails. A time limit aborts the download; the
 * value is then null (not measured) with what was received so far.
 */
import { get } from './client.ts'
import type { Measured } from './report.ts'

/** Waits until the node has checked its snapshot line files against the store (GET /status: setLines.unchecked = 0); returns the seconds waited. */
export async function waitForSetLinesChecked(url: string, operatorToken: string, limitMs: number): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const r = await get(`${url}/status`, operatorToken)
    if (r.status !== 200) throw new Error(`GET /status → ${r.status}`)
    if ((JSON.parse(r.body.toString('utf8')) as { setLines?: { unchecked: number } }).setLines?.unchecked === 0) return (performance.now() - t0) / 1000
    if (performance.now() - t0 > limitMs) throw new Error(`the node did not check its set lines within ${limitMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

export async function measureSnapshot(url: string, token: string, expected: number, entries: number, limitMs: number): Promise<Measured> {
  let lines = 0
  let bytes = 0
  let tail = ''
  const ctl = new AbortController()
  const t0 = performance.now()
  const timer = setTimeout(() => ctl.abort(), limitMs)
  const method = `GET /feed/snapshot (jsonl, provider token) from a node process holding ${entries.toLocaleString('en')} entries / ${expected.toLocaleString('en')} live indicators (fixture 'big'), read to the last byte by one client`
  try {
    const r = await get(`${url}/feed/snapshot`, token, {
      signal: ctl.signal,
      onData: (c) => {
        bytes += c.length
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++
        tail = (tail + c.toString('utf8', Math.max(0, c.length - 4096))).slice(-4096)
      },
    })
    if (r.status !== 200) throw new Error(`snapshot → ${r.status}`)
  } catch (e) {
    if (!ctl.signal.aborted) throw e
    const s = (performance.now() - t0) / 1000
    return {
      key: 'snapshot_10m_s', value: null, method,
      reason: `stopped at the time limit of ${limitMs / 1000} s after ${lines.toLocaleString('en')} of ${expected.toLocaleString('en')} lines (${Math.round(lines / s).toLocaleString('en')} lines/s)`,
      details: { lines, bytes, seconds: s },
    }
  } finally {
    clearTimeout(timer)
  }
  const seconds = (performance.now() - t0) / 1000
  const last = JSON.parse(tail.trimEnd().split('\n').pop()!) as { cursor?: string; count?: number }
  if (last.count !== expected) throw new Error(`the snapshot ends with count ${last.count}, expected ${expected}`)
  return {
    key: 'snapshot_10m_s',
    value: seconds,
    method,
    details: { indicators: last.count, bytes, mib_per_s: bytes / 1048576 / seconds, lines_per_s: lines / seconds },
  }
}
