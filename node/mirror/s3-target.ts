/**
 * A mirror in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...), under
 * a key prefix, through @aws-sdk/client-s3. Every object carries its
 * Cache-Control and Content-Type (./layout.ts). No object is made public
 * here: which keys anyone may read is the bucket policy's business
 * (docs/deploy.md gives one that opens the public paths only), and the
 * node's GET /mirror/<path> answers with a presigned URL for any of them.
 *
 * Credentials: CAIRN_MIRROR_S3_ACCESS_KEY_ID and
 * CAIRN_MIRROR_S3_SECRET_ACCESS_KEY, or else the SDK's default chain
 * (instance role, AWS_* variables), so node.json holds no secret.
 */
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3'
import { createReadStream } from 'node:fs'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { LedgerError } from '../../protocol/errors.ts'
import type { MirrorFile } from './layout.ts'
import type { MirrorTarget } from './target.ts'

export interface S3Settings {
  endpoint?: string
  bucket: string
  prefix: string
  region: string
  force_path_style: boolean
}

import { S3_KEY_ID_ENV, S3_SECRET_ENV } from './index.ts'

/** One request's limits: an unreachable bucket fails the round quickly and the writer backs off. */
const CONNECT_TIMEOUT_MS = 5000
const REQUEST_TIMEOUT_MS = 60_000

export class S3Target implements MirrorTarget {
  readonly describe: string
  private readonly client: S3Client
  private readonly prefix: string

  constructor(
    private readonly s: S3Settings,
    { id, secret }: { id?: string; secret?: string } = { id: process.env.CAIRN_MIRROR_S3_ACCESS_KEY_ID, secret: process.env.CAIRN_MIRROR_S3_SECRET_ACCESS_KEY },
  ) {
    if ((id === undefined) !== (secret === undefined)) {
      throw new LedgerError('BAD_CONFIG', `node.json mirror.s3: set both ${S3_KEY_ID_ENV} and ${S3_SECRET_ENV}, or neither (then the AWS SDK's default credentials are used)`)
    }
    this.prefix = s.prefix === '' || s.prefix.endsWith('/') ? s.prefix : `${s.prefix}/`
    this.describe = `s3://${s.bucket}/${this.prefix}`
    this.client = new S3Client({
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      forcePathStyle: s.force_path_style,
      ...(id !== undefined && secret !== undefined ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
      // Checksums only where S3 requires them: several S3-compatible servers refuse the newer trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2, // the writer retries rounds with its own backoff
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    })
  }

  key(file: MirrorFile): string {
    return this.prefix + file.path
  }

  async put(file: MirrorFile, body: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({
      Bucket: this.s.bucket, Key: this.key(file), Body: body,
      CacheControl: file.cacheControl, ContentType: file.contentType, ContentLength: body.length,
    }))
  }

  async putFile(file: MirrorFile, localPath: string, size: number): Promise<void> {
    await this.client.send(new PutObjectCommand({
      Bucket: this.s.bucket, Key: this.key(file), Body: createReadStream(localPath), // one PUT: S3 takes up to 5 GB so
      CacheControl: file.cacheControl, ContentType: file.contentType, ContentLength: size,
    }))
  }

  presign(file: MirrorFile, seconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.s.bucket, Key: this.key(file) }), { expiresIn: seconds })
  }

  destroy(): void {
    this.client.destroy()
  }
}
