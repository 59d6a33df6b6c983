#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `cairn` works right after `npm install`.
import { register } from 'tsx/esm/api'
register()
await import('../cli/main.ts')
