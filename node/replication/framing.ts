/**
 * Length-prefixed messages for cairn's libp2p request/response protocols.
 *
 * A message is a run of frames followed by a trailer. A frame is
 * `uvarint(length + 1) ‖ bytes` (so frames may be empty); a lone `uvarint(0)` ends
 * the frames and is followed by one status frame: `0x00` (ok) or `0x01 ‖
 * utf8(code ‖ "\n" ‖ message)` (the sender failed after maybe sending some
 * frames). The trailer lets a reader tell a complete message from a stream that
 * was cut at a frame boundary.
 *
 * Writers batch small frames into ~64 KiB chunks, one `stream.send` each (one
 * send per 200-byte frame is an order of magnitude slower). Readers enforce a
 * per-frame size limit, a frame-count and byte budget and an idle timeout, and
 * pause the stream (yamux then stops granting window) when the consumer lags.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { ERROR_CODES, LedgerError, isLedgerError, type ErrorCode } from '../../protocol/errors.ts'

/** Writes are gathered up to this many bytes before one `stream.send`. */
export const BATCH_BYTES = 64 * 1024
/** Default largest payload frame: a maximal entry (65,535 B) plus room for metadata. */
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024
/** A uvarint of 5 bytes holds 35 bits, far above any frame limit we allow. */
const MAX_VARINT_BYTES = 5
/** Upper bound for any configured frame limit (keeps varint arithmetic exact). */
const FRAME_LIMIT_CEILING = 2 ** 31 - 1
/** What FrameDecoder returns for the `uvarint(0)` that ends a message's frames. */
export const END_OF_FRAMES = null
const STATUS_OK = 0x00
const STATUS_ERROR = 0x01
const MAX_ERROR_MESSAGE_CHARS = 500

export type FrameSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>
export type BadFrameReason = 'too_large' | 'over_budget' | 'truncated' | 'bad_trailer'

function checkLimit(maxFrameBytes: number): number {
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > FRAME_LIMIT_CEILING) {
    throw new LedgerError('BAD_CONFIG', `frame limit must be an integer in 1..${FRAME_LIMIT_CEILING}, got ${maxFrameBytes}`)
  }
  return maxFrameBytes
}

/** Unsigned LEB128 varint of a non-negative safe integer. */
export function encodeVarint(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** One frame: `uvarint(len + 1) ‖ payload`. Throws TOO_LARGE above `maxFrameBytes`. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  if (payload.byteLength > maxFrameBytes) {
    throw new LedgerError('TOO_LARGE', `frame of ${payload.byteLength} bytes is over the ${maxFrameBytes}-byte limit`)
  }
  const prefix = encodeVarint(payload.byteLength + 1)
  const out = new Uint8Array(prefix.byteLength + payload.byteLength)
  out.set(prefix, 0)
  out.set(payload, prefix.byteLength)
  return out
}

/**
 * Incremental frame decoder. `push` returns every frame completed by the new
 * bytes (plain Uint8Array views into the received chunks, not copies, so a kept
 * frame pins its ~64 KiB chunk), with END_OF_FRAMES where a
 * message's frames end, and throws TOO_LARGE as soon as a length prefix
 * announces a frame over the limit, before buffering it.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  readonly #buf = new Uint8ArrayList()

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = checkLimit(maxFrameBytes)
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#buf.byteLength
  }

  push(chunk: Uint8Array | Uint8ArrayList): Array<Uint8Array | typeof END_OF_FRAMES> {
    this.#buf.append(chunk)
    const frames: Array<Uint8Array | typeof END_OF_FRAMES> = []
    for (;;) {
      const header = this.#readPrefix()
      if (header === undefined) break
      if (header.length < 0) {
        frames.push(END_OF_FRAMES)
        this.#buf.consume(header.prefixBytes)
        continue
      }
      const end = header.prefixBytes + header.length
      if (this.#buf.byteLength < end) break
      const frame = this.#buf.subarray(header.prefixBytes, end)
      // a plain Uint8Array view: socket data arrives as Node Buffers, whose slice() does not copy
      frames.push(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength))
      this.#buf.consume(end)
    }
    return frames
  }

  /** The next prefix: payload length (-1 for the end marker) and prefix size; undefined if incomplete. */
  #readPrefix(): { length: number, prefixBytes: number } | undefined {
    const available = Math.min(this.#buf.byteLength, MAX_VARINT_BYTES)
    let value = 0
    for (let i = 0; i < available; i++) {
      const byte = this.#buf.get(i)
      value += (byte & 0x7f) * 2 ** (7 * i)
      // later bytes can only add, so the frame is already known to be too big
      if (value - 1 > this.maxFrameBytes) {
        throw new LedgerError('TOO_LARGE', `peer sent a frame over the ${this.maxFrameBytes}-byte limit`)
      }
      if (byte < 0x80) return { length: value - 1, prefixBytes: i + 1 }
    }
    if (available === MAX_VARINT_BYTES) {
      throw new LedgerError('TOO_LARGE', `frame length prefix is longer than ${MAX_VARINT_BYTES} bytes`)
    }
    return undefined
  }
}

/**
 * Gathers encoded frames into chunks of at least `batchBytes` (a frame is never
 * split; a frame bigger than a batch travels in a chunk of its own).
 */
export class FrameBatcher {
  readonly maxFrameBytes: number
  readonly batchBytes: number
  #parts: Uint8Array[] = []
  #size = 0

  constructor(opts: { maxFrameBytes?: number, batchBytes?: number } = {}) {
    this.maxFrameBytes = checkLimit(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
    this.batchBytes = opts.batchBytes ?? BATCH_BYTES
  }

  get pendingBytes(): number {
    return this.#size
  }

  /** Adds one frame; returns a chunk to write once a batch is full. */
  add(payload: Uint8Array): Uint8Array | undefined {
    if (payload.byteLength > this.maxFrameBytes) {
      throw new LedgerError('TOO_LARGE', `frame of ${payload.byteLength} bytes is over the ${this.maxFrameBytes}-byte limit`)
    }
    this.#push(encodeVarint(payload.byteLength + 1))
    this.#push(payload)
    return this.#size >= this.batchBytes ? this.flush() : undefined
  }

  /** Appends the message trailer (ok, or the error the sender failed with). */
  addTrailer(error?: unknown): void {
    this.#push(Uint8Array.of(0))
    const status = encodeStatus(error)
    this.#push(encodeVarint(status.byteLength + 1))
    this.#push(status)
  }

  /** Everything pending as one chunk, or undefined when nothing is pending. */
  flush(): Uint8Array | undefined {
    if (this.#size === 0) return undefined
    const out = new Uint8Array(this.#size)
    let offset = 0
    for (const part of this.#parts) {
      out.set(part, offset)
      offset += part.byteLength
    }
    this.#parts = []
    this.#size = 0
    return out
  }

  #push(part: Uint8Array): void {
    this.#parts.push(part)
    this.#size += part.byteLength
  }
}

/** Status frame payload: `0x00`, or `0x01 ‖ code ‖ "\n" ‖ message` (internal errors carry no details). */
export function encodeStatus(error?: unknown): Uint8Array {
  if (error === undefined) return Uint8Array.of(STATUS_OK)
  const code = isLedgerError(error) ? error.code : ''
  const message = isLedgerError(error) ? error.message.slice(0, MAX_ERROR_MESSAGE_CHARS) : 'internal error'
  const text = new TextEncoder().encode(`${code}\n${message}`)
  const out = new Uint8Array(1 + text.byteLength)
  out[0] = STATUS_ERROR
  out.set(text, 1)
  return out
}

/**
 * Parses a status frame: undefined for ok; for an error, the sender's code (only
 * if it is one of ours) and its message with control characters removed.
 */
export function decodeStatus(frame: Uint8Array): { code?: ErrorCode, message: string } | undefined {
  if (frame.byteLength === 1 && frame[0] === STATUS_OK) return undefined
  if (frame.byteLength < 1 || frame[0] !== STATUS_ERROR) {
    throw new LedgerError('PEER_UNREACHABLE', 'peer ended a message with an unreadable status frame')
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(frame.subarray(1))
  const newline = text.indexOf('\n')
  const rawCode = newline < 0 ? '' : text.slice(0, newline)
  const message = (newline < 0 ? text : text.slice(newline + 1))
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .slice(0, MAX_ERROR_MESSAGE_CHARS)
  const code = (ERROR_CODES as readonly string[]).includes(rawCode) ? (rawCode as ErrorCode) : undefined
  return { code, message }
}

const IDLE = Symbol('idle')

/**
 * Feeds `source` through `batcher`, yielding full chunks. When an async source
 * has nothing ready (its next value takes a macrotask), the partial batch is
 * flushed so a slow producer never delays frames already made. Frames still in
 * the batcher when the source throws stay there for the caller to flush.
 */
export async function* batchFrames(source: FrameSource, batcher: FrameBatcher): AsyncGenerator<Uint8Array> {
  if (Symbol.iterator in source) {
    for (const frame of source) {
      const chunk = batcher.add(frame)
      if (chunk !== undefined) yield chunk
    }
    return
  }
  const it = source[Symbol.asyncIterator]()
  let finished = false
  try {
    for (;;) {
      const pending = it.next()
      let result: IteratorResult<Uint8Array>
      if (batcher.pendingBytes > 0) {
        const first = await Promise.race([pending, new Promise<typeof IDLE>((resolve) => setImmediate(resolve, IDLE))])
        if (first === IDLE) {
          pending.catch(() => undefined) // still awaited below, unless the consumer stops here
          const chunk = batcher.flush()
          if (chunk !== undefined) yield chunk
          result = await pending
        } else {
          result = first
        }
      } else {
        result = await pending
      }
      if (result.done === true) { finished = true; return }
      const chunk = batcher.add(result.value)
      if (chunk !== undefined) yield chunk
    }
  } finally {
    // stopped early (stream failed, frame refused): let the source run its finally blocks,
    // e.g. close a database iterator; not awaited, since a stuck source must not block us
    if (!finished) void Promise.resolve(it.return?.()).catch(() => undefined)
  }
}

/** The parts of a libp2p 3 stream the writer needs. */
export type FrameSink = Pick<Stream, 'send' | 'onDrain'>

export interface SendOptions {
  maxFrameBytes?: number
  batchBytes?: number
  /** Longest wait for the peer to take more data (flow control) before failing. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface SendResult {
  frames: number
  bytes: number
  /** Set when `frames` threw: what was made before it was sent, then an error trailer. */
  error?: unknown
}

/**
 * Sends `frames` as one message (payload frames, then the trailer) without
 * closing the stream. An error thrown by `frames` is sent to the peer in the
 * trailer and returned in `error`; a transport failure throws PEER_UNREACHABLE.
 */
export async function sendMessage(stream: FrameSink, frames: FrameSource, opts: SendOptions = {}): Promise<SendResult> {
  const batcher = new FrameBatcher(opts)
  const timeoutMs = opts.timeoutMs ?? 10_000
  let count = 0
  let bytes = 0
  let error: unknown
  const counted = countFrames(frames, (n) => { count++; bytes += n })
  const chunks = batchFrames(counted, batcher)
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>
      try {
        next = await chunks.next()
      } catch (err) {
        error = err
        break
      }
      if (next.done === true) break
      await writeChunk(stream, next.value, timeoutMs, opts.signal)
    }
  } finally {
    await chunks.return(undefined) // closes the source if a write failed part-way
  }
  batcher.addTrailer(error)
  const last = batcher.flush()
  if (last !== undefined) await writeChunk(stream, last, timeoutMs, opts.signal)
  return { frames: count, bytes, error }
}

function countFrames(frames: FrameSource, onFrame: (bytes: number) => void): FrameSource {
  if (Symbol.iterator in frames) {
    return (function* () { for (const f of frames) { onFrame(f.byteLength); yield f } })()
  }
  return (async function* () { for await (const f of frames) { onFrame(f.byteLength); yield f } })()
}

async function writeChunk(stream: FrameSink, chunk: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let ready: boolean
  try {
    ready = stream.send(chunk)
  } catch (err) {
    throw new LedgerError('PEER_UNREACHABLE', `stream closed while sending: ${errorText(err)}`, { cause: err })
  }
  if (ready) return
  // send() queued the chunk but the muxer's window is full: wait for the peer to read
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    await stream.onDrain({ signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
  } catch (err) {
    const why = timeout.aborted ? `peer took no data for ${timeoutMs} ms` : `stream closed while sending: ${errorText(err)}`
    throw new LedgerError('PEER_UNREACHABLE', why, { cause: err })
  }
}

/** The parts of a libp2p 3 stream the reader needs. */
export type FrameFeed = Pick<Stream, 'addEventListener' | 'removeEventListener' | 'pause' | 'resume' | 'readStatus' | 'readableEnded' | 'status'>

export interface ReceiveOptions {
  maxFrameBytes?: number
  /** Most payload frames accepted in one message. */
  maxFrames?: number
  /** Most payload bytes accepted in one message. */
  maxBytes?: number
  /** Fail when no bytes arrive for this long while the consumer waits. */
  idleTimeoutMs?: number
  /** Decoded-but-unread bytes above which the stream is paused. */
  highWaterBytes?: number
  signal?: AbortSignal
  /** Who is on the other end, for error messages. */
  remote?: string
  onBadFrame?: (reason: BadFrameReason) => void
}

/**
 * Yields the payload frames of one incoming message, in order. Returns once the
 * ok trailer arrives; throws PEER_ERROR (sender's code in `cause`) for an error
 * trailer, TOO_LARGE for a frame or message over the limits, PEER_UNREACHABLE
 * when the stream ends or resets before the trailer or goes idle too long.
 * The caller owns the stream: abort it if this throws or is abandoned.
 */
export async function* receiveMessage(stream: FrameFeed, opts: ReceiveOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new FrameDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
  const maxFrames = opts.maxFrames ?? Number.POSITIVE_INFINITY
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
  const idleTimeoutMs = opts.idleTimeoutMs ?? 10_000
  const highWater = opts.highWaterBytes ?? 1024 * 1024
  const who = opts.remote === undefined ? 'peer' : `peer ${opts.remote}`

  let queue: Uint8Array[] = []
  let head = 0
  let queuedBytes = 0
  let frames = 0
  let bytes = 0
  let phase = 'payload' as 'payload' | 'status' | 'done' // cast: handlers change it behind TS's back
  let status: Uint8Array | undefined
  let failure: unknown
  let ended = false
  let resetError: unknown
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }
  const bad = (reason: BadFrameReason, err: LedgerError): void => {
    if (failure === undefined) { failure = err; opts.onBadFrame?.(reason) }
  }

  const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    if (failure !== undefined || phase === 'done') return
    let decoded: ReturnType<FrameDecoder['push']>
    try {
      decoded = decoder.push(evt.data)
    } catch (err) {
      bad('too_large', err as LedgerError)
      notify()
      return
    }
    for (const frame of decoded) {
      if (phase === 'status') {
        if (frame === END_OF_FRAMES) {
          failure = new LedgerError('PEER_UNREACHABLE', `${who} sent two end-of-message markers`)
          opts.onBadFrame?.('bad_trailer')
          break
        }
        status = frame
        phase = 'done'
        break
      }
      if (frame === END_OF_FRAMES) { phase = 'status'; continue }
      frames++
      bytes += frame.byteLength
      if (frames > maxFrames || bytes > maxBytes) {
        bad('over_budget', new LedgerError('TOO_LARGE', `${who} sent a message over the limit of ${maxFrames} frames / ${maxBytes} bytes`))
        break
      }
      queue.push(frame)
      queuedBytes += frame.byteLength
    }
    if (queuedBytes > highWater && stream.readStatus === 'readable') stream.pause()
    notify()
  }
  const onEnd = (): void => { ended = true; notify() }
  const onClose = (evt: Event & { error?: Error }): void => {
    if (evt.error !== undefined) resetError = evt.error
    ended = true
    notify()
  }
  const onAbort = (): void => notify()

  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  opts.signal?.addEventListener('abort', onAbort)
  if (stream.readableEnded || (stream.status !== 'open' && stream.status !== 'closing')) ended = true
  try {
    for (;;) {
      if (head < queue.length) {
        const frame = queue[head++]!
        queuedBytes -= frame.byteLength
        if (head > 1024 && head * 2 > queue.length) { queue = queue.slice(head); head = 0 }
        if (stream.readStatus === 'paused' && queuedBytes <= highWater / 2) stream.resume()
        yield frame
        continue
      }
      if (failure !== undefined) throw failure
      if (phase === 'done') {
        let result: ReturnType<typeof decodeStatus>
        try {
          result = decodeStatus(status!)
        } catch (err) {
          opts.onBadFrame?.('bad_trailer')
          throw err
        }
        if (result === undefined) return
        const cause = result.code === undefined ? undefined : new LedgerError(result.code, result.message)
        throw new LedgerError('PEER_ERROR', `${who} failed: ${result.code ?? 'error'}: ${result.message}`, { cause })
      }
      if (opts.signal?.aborted === true) throw new LedgerError('PEER_UNREACHABLE', `request to ${who} was cancelled`)
      if (ended) {
        if (resetError === undefined) opts.onBadFrame?.('truncated')
        const why = resetError !== undefined ? `reset the stream (${errorText(resetError)})` : 'closed the stream'
        throw new LedgerError('PEER_UNREACHABLE', `${who} ${why} before the message was complete`, { cause: resetError })
      }
      if (stream.readStatus === 'paused') stream.resume()
      await waitFor((w) => { wake = w }, idleTimeoutMs).then((woke) => {
        if (!woke) throw new LedgerError('PEER_UNREACHABLE', `${who} sent nothing for ${idleTimeoutMs} ms`)
      })
    }
  } finally {
    wake = undefined
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

/** Resolves true when woken, false after `ms`; the timer never keeps the process alive. */
function waitFor(register: (wake: () => void) => void, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    timer.unref?.()
    register(() => { clearTimeout(timer); resolve(true) })
  })
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
