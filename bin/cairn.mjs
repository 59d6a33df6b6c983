#!/usr/bin/env node
// Runs the compiled CLI (dist/, from `npm run build`) when it is as new as
// the sources; otherwise the TypeScript through tsx's loader, so `cairn`
// works right after `npm install` and never runs a stale build.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { newestSource } from './sources.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const built = join(root, 'dist/build.json')
let fresh = false
if (existsSync(built) && process.env.CAIRN_FROM_SOURCE !== '1') {
  try {
    fresh = JSON.parse(readFileSync(built, 'utf8')).newest_source_ms >= newestSource(root)
  } catch {
    fresh = false
  }
}
if (fresh) {
  await import('../dist/cli/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../cli/main.ts')
}
