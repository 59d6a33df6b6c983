/**
 * Where a mirror is written: a directory (./dir-target.ts) or an
 * S3-compatible bucket (./s3-target.ts). Both take whole files; a file is
 * replaced in one step, so a reader sees the old bytes or the new ones.
 */
import type { MirrorFile } from './layout.ts'

export interface MirrorTarget {
  /** What the logs and /status call it (a path or s3://bucket/prefix): no secrets. */
  readonly describe: string
  put(file: MirrorFile, body: Uint8Array): Promise<void>
  /** The same from a local file (a snapshot may be larger than memory should hold). */
  putFile(file: MirrorFile, localPath: string, size: number): Promise<void>
  /** A URL a client may GET the file at for `seconds` (S3 only; a directory is served by its own web server). */
  presign?(file: MirrorFile, seconds: number): Promise<string>
}
