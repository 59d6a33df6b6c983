/**
 * What running a node on real machines needs (docs/deploy.md): HTTPS from a
 * certificate in node.json (renewed without a restart), /healthz and /readyz, and addresses other
 * centres can dial (`keygen --advertise`; a listen address of 0.0.0.0 alone
 * is refused). The Dockerfile, compose file and systemd unit are checked for
 * what the guide promises of them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNode } from '../node/node.ts'
import { isDialable, loadNodeFile, saveNodeFile } from '../node/config.ts'
import { planFederation } from '../testnet/federation.ts'
import { runCairn } from './support/cli.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

/** GET over HTTPS trusting exactly `ca` (the test's self-signed certificate). */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject).end()
  })
}

/** The SHA-256 fingerprint of the certificate a TLS server presents now (a new connection). */
function servedCertificate(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url + '/healthz', { rejectUnauthorized: false, agent: false }, (res) => {
      const fp = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256
      res.resume()
      res.on('end', () => resolve(fp))
    })
    req.on('error', reject)
    req.end()
  })
}

const makeCertificate = (key: string, cert: string, cn: string) =>
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { encoding: 'utf8' })

test('a node serves HTTPS from the certificate and key node.json names, and answers /healthz and /readyz', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-deploy-'))
  try {
    const { nodes } = await planFederation({ dir, names: ['solo'], threshold: 1 })
    const nodeDir = nodes[0]!.dir
    const ssl = makeCertificate(join(nodeDir, 'tls.key'), join(nodeDir, 'tls.crt'), 'localhost')
    if (ssl.status !== 0) {
      console.log(`deploy.test.ts: openssl could not make a certificate (${ssl.error?.message ?? ssl.stderr.trim()}); HTTPS not tested`)
      return
    }
    const settings = loadNodeFile(nodeDir)
    saveNodeFile(nodeDir, { ...settings, http: { ...settings.http, tls: { cert: 'tls.crt', key: 'tls.key' } } })
    const node = await startNode({ dir: nodeDir, alone: true, logLevel: 'silent' })
    try {
      assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      const ca = readFileSync(join(nodeDir, 'tls.crt'))
      const health = await httpsGet(node.url + '/healthz', ca)
      assert.is(health.status, 200)
      assert.equal(JSON.parse(health.body), { status: 'ok' })
      let ready = await httpsGet(node.url + '/readyz', ca)
      for (let i = 0; i < 100 && ready.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100))
        ready = await httpsGet(node.url + '/readyz', ca)
      }
      assert.is(ready.status, 200, ready.body)
      assert.is(JSON.parse(ready.body).own_log, 'ready')
      // Plain HTTP to the HTTPS port gets no API answer.
      const plain = await fetch(node.url.replace('https:', 'http:') + '/healthz').then((r) => r.status, () => 'refused')
      assert.is.not(plain, 200)

      // A renewal is taken up without a restart (SIGHUP here; a timer too); a half-written one is not.
      const first = await servedCertificate(node.url)
      assert.is(makeCertificate(join(nodeDir, 'renewed.key'), join(nodeDir, 'renewed.crt'), 'renewed').status, 0)
      writeFileSync(join(nodeDir, 'tls.crt'), readFileSync(join(nodeDir, 'renewed.crt')))
      process.emit('SIGHUP')
      assert.is(await servedCertificate(node.url), first, 'a certificate without its new key is not taken')
      writeFileSync(join(nodeDir, 'tls.key'), readFileSync(join(nodeDir, 'renewed.key')))
      process.emit('SIGHUP')
      const renewed = await servedCertificate(node.url)
      assert.is.not(renewed, first, 'the renewed certificate is served')
      assert.is((await httpsGet(node.url + '/healthz', readFileSync(join(nodeDir, 'renewed.crt')))).status, 200)
    } finally {
      await node.stop()
    }
    // A key that does not belong to the certificate, and a missing key file: one clear start-up error each.
    spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(nodeDir, 'other.key')])
    saveNodeFile(nodeDir, { ...settings, http: { ...settings.http, tls: { cert: 'tls.crt', key: 'other.key' } } })
    await startNode({ dir: nodeDir, alone: true, logLevel: 'silent' }).then(
      async (n) => { await n.stop(); assert.unreachable('started with a key that is not the certificate\'s') },
      (e) => assert.match(String(e.message), /http\.tls: .*tls\.crt and .*other\.key are not a PEM certificate chain and its private key/),
    )
    saveNodeFile(nodeDir, { ...settings, http: { ...settings.http, tls: { cert: 'tls.crt', key: 'missing.key' } } })
    await startNode({ dir: nodeDir, alone: true, logLevel: 'silent' }).then(
      async (n) => { await n.stop(); assert.unreachable('started without its TLS key') },
      (e) => assert.match(String(e.message), /http\.tls: cannot read .*missing\.key/),
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('advertised addresses: dialable hosts only; keygen --advertise writes them, 0.0.0.0 alone is refused', async () => {
  for (const ok of ['/dns4/cairn.example.org/tcp/4001', '/ip4/203.0.113.7/tcp/4001', '/ip6/2001:db8::7/tcp/4001', '/dns/cairn.example.org/tcp/443']) assert.ok(isDialable(ok), ok)
  for (const bad of ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001', '/ip4/300.1.1.1/tcp/1', '/dns4/cairn.example.org/tcp/0', '/dns4/-bad-.org/tcp/1', '/ip4/1.2.3.4/udp/1', 'cairn.example.org:4001']) assert.not.ok(isDialable(bad), bad)
  const dir = mkdtempSync(join(tmpdir(), 'cairn-advertise-'))
  try {
    const refused = await runCairn(['keygen', '--dir', join(dir, 'a'), '--origin', 'test.cairn/a', '--host', '0.0.0.0', '--p2p-port', '4001'])
    assert.is(refused.code, 1)
    assert.match(refused.stderr, /BAD_CONFIG.*--host 0\.0\.0\.0 is not an address other centres can dial; give --advertise/)
    assert.not.ok(existsSync(join(dir, 'a', 'keys.json')), 'no keys written for a refused keygen')
    const bad = await runCairn(['keygen', '--dir', join(dir, 'b'), '--origin', 'test.cairn/b', '--advertise', '/ip4/0.0.0.0/tcp/4001'])
    assert.is(bad.code, 1)
    assert.match(bad.stderr, /--advertise \/ip4\/0\.0\.0\.0\/tcp\/4001/)
    const good = await runCairn(['keygen', '--dir', join(dir, 'c'), '--origin', 'test.cairn/c', '--host', '0.0.0.0', '--p2p-port', '4001', '--advertise', '/dns4/cairn.example.org/tcp/4001'])
    assert.is(good.code, 0, good.stderr)
    assert.equal(JSON.parse(readFileSync(join(dir, 'c', 'member.json'), 'utf8')).addrs, ['/dns4/cairn.example.org/tcp/4001'])
    assert.equal(loadNodeFile(join(dir, 'c')).advertise, ['/dns4/cairn.example.org/tcp/4001'])
    assert.equal(loadNodeFile(join(dir, 'c')).listen, ['/ip4/0.0.0.0/tcp/4001'])
    // node.json refuses an undialable advertise address at start.
    const file = join(dir, 'c', 'node.json')
    writeFileSync(file, readFileSync(file, 'utf8').replace('/dns4/cairn.example.org/tcp/4001', '/ip4/0.0.0.0/tcp/4001'))
    assert.throws(() => loadNodeFile(join(dir, 'c')), /advertise/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the Dockerfile, compose file and systemd unit are what docs/deploy.md says: non-root, the node directory a volume, a health check, restart on failure', () => {
  const docker = readFileSync(join(root, 'deploy/Dockerfile'), 'utf8')
  assert.match(docker, /^FROM node:20[^\n]* AS build$/m, 'a build stage')
  assert.match(docker, /^FROM node:20[^\n]*$/m)
  assert.match(docker, /npm run build/)
  assert.match(docker, /^USER (?!root\b)\S+/m, 'runs as a non-root user')
  assert.match(docker, /^VOLUME \["\/var\/lib\/cairn"\]$/m, 'the node directory is a volume')
  assert.match(docker, /^HEALTHCHECK .*\/healthz/m, 'a health check on /healthz')
  assert.match(docker, /^ENTRYPOINT \["node", "bin\/cairn\.mjs"\]$/m)
  const compose = readFileSync(join(root, 'deploy/compose.yaml'), 'utf8')
  for (const name of ['eu-centre', 'ncmec', 'c3p', 'esafety']) assert.match(compose, new RegExp(`^  ${name}:$`, 'm'), `compose runs ${name}`)
  assert.match(compose, /healthcheck:/)
  const unit = readFileSync(join(root, 'deploy/cairn-node.service'), 'utf8')
  for (const line of [/^User=cairn$/m, /^Restart=on-failure$/m, /^ExecStart=.*cairn\.mjs node start --dir \/var\/lib\/cairn$/m, /^NoNewPrivileges=yes$/m, /^ProtectSystem=strict$/m, /^ReadWritePaths=\/var\/lib\/cairn$/m, /^UMask=0077$/m]) assert.match(unit, line)
  const guide = readFileSync(join(root, 'docs/deploy.md'), 'utf8')
  for (const topic of ['--advertise', 'http.tls', 'reverse proxy', 'firewall', 'backup', 'upgrade', '/readyz', 'deploy/Dockerfile', 'deploy/compose.yaml', 'deploy/cairn-node.service']) assert.ok(guide.toLowerCase().includes(topic.toLowerCase()), `docs/deploy.md covers ${topic}`)
})

test.run()
