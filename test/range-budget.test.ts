/**
 * RangeBudget (node/sync.ts): what bounds the memory of ranges a sync fetches
 * ahead, whatever sizes a peer sends in turn.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RangeBudget } from '../node/replication/sync.ts'
import { LedgerError } from '../protocol/errors.ts'

const tick = () => new Promise<void>((r) => setImmediate(r))

test('ranges ahead wait once the budget is spent; the next range in line never waits', async () => {
  const b = new RangeBudget(100, 0)
  let aheadDone = false
  await b.take(0, 80) // the head
  const ahead = b.take(10, 50).then(() => { aheadDone = true }) // over budget, not next in line
  await tick()
  assert.not.ok(aheadDone, 'the range ahead waits while 130 bytes are held')
  await b.take(0, 500) // the head reads on, over budget
  assert.is(b.bytes, 630)
  b.release(580, 10) // the head is stored: the waiting range is next in line
  await ahead
  assert.ok(aheadDone)
  assert.is(b.bytes, 50)
})

test('a range ahead reads on when bytes come back under the budget, before it is next in line', async () => {
  const b = new RangeBudget(100, 0)
  await b.take(0, 60)
  let done = false
  const p = b.take(20, 60).then(() => { done = true })
  await tick()
  assert.not.ok(done)
  b.release(60, 10) // range 0..10 stored; 10.. is next, 20.. still ahead, now within budget
  await p
  assert.ok(done)
})

test('close() ends every wait with an error', async () => {
  const b = new RangeBudget(10, 0)
  const waits = [b.take(5, 20), b.take(9, 20)]
  b.close()
  for (const w of waits) {
    try {
      await w
      assert.unreachable('a wait survived close()')
    } catch (e) {
      assert.ok(e instanceof LedgerError && e.code === 'PEER_ERROR', String(e))
    }
  }
  try {
    await b.take(0, 1)
    assert.unreachable('take after close')
  } catch (e) {
    assert.ok(e instanceof LedgerError)
  }
})

test.run()
