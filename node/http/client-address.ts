/**
 * Who is calling, when the node sits behind reverse proxies: the socket's
 * address, unless that address is a trusted proxy (node.json
 * `http.trusted_proxies`), in which case the right-most address of
 * `X-Forwarded-For` that is not itself a trusted proxy. The right-most
 * untrusted one, because every address left of it was written by the
 * client and can be anything; this is the rule nginx's real_ip_recursive
 * and most proxy-aware servers follow. Without trusted proxies the header
 * is ignored: a caller cannot choose the address it is limited by.
 */
import { BlockList, isIP } from 'node:net'
import { LedgerError } from '../../protocol/errors.ts'

/** The most addresses of one X-Forwarded-For header looked at (a longer chain is a client's invention). */
const MAX_HOPS = 32

export type TrustedProxies = BlockList | undefined

/** Parses `http.trusted_proxies` (IPv4 or IPv6 addresses and CIDR ranges); a bad one is BAD_CONFIG. */
export function trustedProxies(list: readonly string[]): TrustedProxies {
  if (list.length === 0) return undefined
  const blocks = new BlockList()
  for (const item of list) {
    const parts = item.split('/')
    const [address = '', prefixText] = parts
    const type = parts.length > 2 ? 0 : isIP(address)
    const prefix = prefixText === undefined ? (type === 6 ? 128 : 32) : Number(prefixText)
    if (type === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 6 ? 128 : 32) || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
      throw new LedgerError('BAD_CONFIG', `http.trusted_proxies: "${item}" is not an IPv4 or IPv6 address or CIDR range (e.g. 10.0.0.0/8, ::1)`)
    }
    blocks.addSubnet(address, prefix, type === 6 ? 'ipv6' : 'ipv4')
  }
  return blocks
}

function isTrusted(trusted: BlockList, address: string): boolean {
  const type = isIP(address)
  return type !== 0 && trusted.check(address, type === 6 ? 'ipv6' : 'ipv4')
}

/**
 * The client's address for limits and the access log. `socket` is the peer
 * address already written plainly (IPv4-mapped IPv6 as IPv4); a malformed
 * hop in the header stops the walk there and the last good address counts.
 */
export function clientAddress(socket: string, forwardedFor: string | undefined, trusted: TrustedProxies): string {
  if (!trusted || forwardedFor === undefined || !isTrusted(trusted, socket)) return socket
  const hops = forwardedFor.split(',').slice(-MAX_HOPS).map((h) => h.trim())
  let address = socket
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainHop(hops[i]!)
    if (hop === undefined) break
    address = hop
    if (!isTrusted(trusted, hop)) break
  }
  return address
}

/** One X-Forwarded-For entry as a plain address, or undefined when it is not one ("unknown", a port, garbage). */
function plainHop(hop: string): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hop)
  const address = mapped ? mapped[1]! : hop
  return isIP(address) === 0 ? undefined : address
}
