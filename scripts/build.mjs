#!/usr/bin/env node
/**
 * `npm run build`: compiles the TypeScript that runs in production
 * (protocol, client, workers, node, cli) to JavaScript in dist/, copies the
 * files read at run time beside it (the dashboard's page, script and style), and writes dist/build.json. bin/cairn.mjs
 * runs dist/ when it is at least as new as every source file, else the
 * sources through tsx, so a stale build never runs.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { newestSource, SOURCE_DIRS } from '../bin/sources.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const started = Date.now()
rmSync(dist, { recursive: true, force: true })
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (tsc.status !== 0) {
  rmSync(dist, { recursive: true, force: true })
  // As `prepare` (npm install), a failed build leaves `cairn` running the sources through tsx.
  const optional = process.argv.includes('--optional')
  console.error(`build: the TypeScript compiler failed (above); ${optional ? 'cairn runs from the sources through tsx' : 'no dist/'}`)
  process.exit(optional ? 0 : 1)
}
const ASSETS = ['node/dashboard/page.html', 'node/dashboard/app.js', 'node/dashboard/app.css']
for (const a of ASSETS) {
  mkdirSync(dirname(join(dist, a)), { recursive: true })
  cpSync(join(root, a), join(dist, a))
}
writeFileSync(join(dist, 'build.json'), JSON.stringify({ built: new Date().toISOString(), newest_source_ms: newestSource(root), sources: SOURCE_DIRS, assets: ASSETS }, null, 2) + '\n')
console.log(`build: dist/ written in ${((Date.now() - started) / 1000).toFixed(1)} s`)
