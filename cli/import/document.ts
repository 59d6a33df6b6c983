/**
 * Reading a whole JSON or XML import document, with a size cap: these
 * formats are parsed in one piece, so the cap bounds the memory an import
 * takes (a bigger list is split into several files or given as CSV/JSON lines).
 */
import { statSync, readFileSync } from 'node:fs'

export const MAX_DOCUMENT_BYTES = 512 * 1024 * 1024

export function readDocument(path: string): string {
  const size = statSync(path).size
  if (size > MAX_DOCUMENT_BYTES) throw new Error(`${path} is ${size.toLocaleString('en')} bytes, over the ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB a JSON or XML document may have: split it`)
  return readFileSync(path, 'utf8').replace(/^\uFEFF/, '')
}

/** JSON.parse with the reason in the message, never a stack trace. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`)
  }
}
