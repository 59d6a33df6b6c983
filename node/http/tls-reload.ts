/**
 * A renewed certificate is taken up without a restart: the node looks at
 * its http.tls files every minute and at once on SIGHUP (systemd's
 * `reload`), and when either changed it reads and checks the pair again
 * (listen.ts loadTls) and gives it to the HTTPS server for new connections.
 * A pair that does not load (a renewal caught half-written, a key that
 * does not match) is logged once and the running certificate stays.
 */
import { statSync } from 'node:fs'
import type { Server as HttpsServer } from 'node:https'
import { loadTls, type TlsFiles } from './listen.ts'
import type { Logger } from '../logger.ts'

const CHECK_EVERY_MS = 60_000

export class TlsReloader {
  private timer?: NodeJS.Timeout
  private seen: string
  private failedFor?: string
  private readonly onHangup = () => this.check(true)

  constructor(private readonly server: HttpsServer, private readonly files: TlsFiles, private readonly log?: Pick<Logger, 'info' | 'error'>) {
    this.seen = this.stamp()
  }

  start(): void {
    this.timer = setInterval(() => this.check(false), CHECK_EVERY_MS).unref()
    process.on('SIGHUP', this.onHangup)
  }

  stop(): void {
    clearInterval(this.timer)
    process.off('SIGHUP', this.onHangup)
  }

  /** Reloads when the files changed since the last load (or always, on SIGHUP); true when a new pair is in use. */
  check(force: boolean): boolean {
    const stamp = this.stamp()
    if (!force && stamp === this.seen) return false
    if (!force && stamp === this.failedFor) return false
    const { paths } = this.files
    try {
      const next = loadTls(paths)
      this.server.setSecureContext({ cert: next.cert, key: next.key })
      this.seen = stamp
      this.failedFor = undefined
      this.log?.info({ cert: paths.cert, key: paths.key }, 'TLS certificate reloaded: new connections use it')
      return true
    } catch (e) {
      this.failedFor = stamp
      this.log?.error({ cert: paths.cert, key: paths.key, err: (e as Error).message }, 'TLS certificate not reloaded: the running one stays in use')
      return false
    }
  }

  /** Size and modification time of both files: what a renewal changes. */
  private stamp(): string {
    const one = (p: string) => {
      try {
        const s = statSync(p)
        return `${s.size}:${s.mtimeMs}`
      } catch {
        return 'missing'
      }
    }
    return `${one(this.files.paths.cert)}|${one(this.files.paths.key)}`
  }
}
