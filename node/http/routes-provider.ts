/** provider routes (being written). */
import { Hono } from 'hono'
import type { CairnNode } from '../node.ts'
import type { Env } from './app.ts'

export function providerRoutes(getNode: () => CairnNode) {
  const r = new Hono<Env>()
  void getNode
  return r
}
