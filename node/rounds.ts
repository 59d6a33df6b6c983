/**
 * A background job done in rounds: one every `everyMs`, never two at once
 * (a slow round makes the next wait, not pile up); `stop` waits for the one
 * running. A failed round is reported and the next one runs as usual.
 */
export class Rounds {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private ended = false

  constructor(private readonly round: () => Promise<unknown>, private readonly everyMs: number, private readonly failed: (e: unknown) => void) {}

  /** True once stop was called: a long round checks it to end early. */
  get stopped(): boolean {
    return this.ended
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running || this.ended) return
      this.running = this.round().then(() => undefined, this.failed).finally(() => { this.running = undefined })
    }, this.everyMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.ended = true
    clearInterval(this.timer)
    await this.running
  }
}
