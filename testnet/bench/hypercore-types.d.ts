/** The part of hypercore's API (v11, ships no types) that the bench uses: testnet/bench/hypercore.ts and hypercore-peer.ts. */
declare module 'hypercore' {
  import type { Duplex } from 'node:stream'
  export default class Hypercore {
    constructor(storage: string, key?: Uint8Array)
    readonly key: Buffer | null
    readonly length: number
    readonly byteLength: number
    readonly contiguousLength: number
    ready(): Promise<void>
    append(blocks: Uint8Array | Uint8Array[]): Promise<{ length: number; byteLength: number }>
    get(index: number, options?: { wait?: boolean }): Promise<Buffer | null>
    update(options?: { wait?: boolean }): Promise<boolean>
    download(range: { start: number; end: number }): { done(): Promise<void>; destroy(): void }
    replicate(isInitiator: boolean): Duplex
    close(): Promise<void>
  }
}
