/**
 * Runtime polyfills that libp2p 3 needs on Node 20. Import this module first
 * in every entry point (CLI, node, tests, testnet) before anything from libp2p:
 * libp2p 3 calls `Promise.withResolvers`, which Node only ships from v22.
 */

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

type PromiseWithResolversCtor = PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> }

/** Installs `Promise.withResolvers` if the runtime lacks it; safe to call any number of times. */
export function installPolyfills(): void {
  const P = Promise as PromiseWithResolversCtor
  if (typeof P.withResolvers === 'function') return
  Object.defineProperty(P, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      // `this` keeps subclass semantics (Promise subclasses get their own kind of promise)
      const promise = new (this ?? Promise)<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    },
  })
}

installPolyfills()
