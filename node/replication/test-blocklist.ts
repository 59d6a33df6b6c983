/**
 * TEST ONLY (fault scenarios, testnet/scenarios/partition.ts): when `path` is
 * set (CAIRN_TEST_BLOCKLIST), the peer ids listed in that file (one a line)
 * are treated as outside the roster, so the harness can split and heal a
 * federation of real node processes. The file is re-read every 250 ms; when
 * it changes, `onChange` drops connections to newly blocked peers. Unset (the
 * default): no effect.
 */
import { readFileSync } from 'node:fs'

export function testBlocklist(path: string | undefined, onChange: () => void): { ids(): ReadonlySet<string>; stop(): void } {
  let ids = new Set<string>()
  if (!path) return { ids: () => ids, stop() {} }
  let last = ''
  const read = (): boolean => {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      // no file: nobody blocked
    }
    if (text === last) return false
    last = text
    ids = new Set(text.split('\n').map((l) => l.trim()).filter(Boolean))
    return true
  }
  read()
  const timer = setInterval(() => { if (read()) onChange() }, 250)
  timer.unref()
  return { ids: () => ids, stop: () => clearInterval(timer) }
}
