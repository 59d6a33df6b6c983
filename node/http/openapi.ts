/**
 * The API described for machines: an OpenAPI 3.1 document (GET /openapi.json)
 * made from the app's own route list and the table below, which gives each
 * route its summary, who may call it, its query parameters and what it
 * answers, with the section of spec/api.md that holds the full contract.
 * test/openapi.test.ts checks both ways that every route the app serves is
 * in the table and every entry is a route, so the document cannot drift
 * from the server. Record bodies refer to spec/schemas/record.schema.json.
 */
import type { ApiRole } from '../tokens.ts'

type Who = 'public' | ApiRole[]

interface Operation {
  summary: string
  who: Who
  /** spec/api.md section. */
  section: string
  query?: Record<string, string>
  /** Content type and description of a request body. */
  body?: [string, string]
  /** Status → [content type (or '' for none), description]. */
  answers: Record<number, [string, string]>
}

const READERS: ApiRole[] = ['provider', 'auditor', 'oversight']
const AUDITORS: ApiRole[] = ['auditor', 'oversight']
const OPERATOR: ApiRole[] = ['operator']
const JSON_ = 'application/json'
const TEXT = 'text/plain; charset=utf-8'
const ok = (type: string, what: string): Record<number, [string, string]> => ({ 200: [type, what] })

/** "METHOD path" with the app's path syntax (`:param`, `:param{regex}`, `*`). TAXII's paths are also served without their trailing slash. */
export const OPERATIONS: Record<string, Operation> = {
  'GET /logs': { summary: 'The logs this node holds, with sizes and keys', who: 'public', section: 'A.4.1', answers: ok(JSON_, 'one object per log') },
  'GET /logs/:name/checkpoint': { summary: 'A log\'s newest cosigned checkpoint (C2SP tlog-checkpoint)', who: 'public', section: 'A.4.2', answers: ok(TEXT, 'signed note') },
  'GET /logs/:name/tile/*': { summary: 'Hash tiles and entry bundles (C2SP tlog-tiles)', who: AUDITORS, section: 'A.4.3', answers: ok('application/octet-stream', 'tile bytes') },
  'GET /logs/:name/proof/:index': { summary: 'Inclusion proof of one entry (C2SP tlog-proof)', who: AUDITORS, section: 'A.4.4', answers: ok(TEXT, 'tlog-proof') },
  'POST /logs/:name/proofs': { summary: 'Up to 1,000 inclusion proofs at once', who: AUDITORS, section: 'A.4.4', body: [JSON_, 'indexes'], answers: ok(JSON_, 'tlog-proofs') },
  'GET /logs/:name/equivocation': { summary: 'The equivocation proof of a frozen log', who: 'public', section: 'A.4.5', answers: { ...ok(TEXT, 'equivocation proof'), 404: [JSON_, 'the log is not frozen'] } },
  'GET /logs/:name/redactions': { summary: 'Redaction notices of a log', who: 'public', section: 'A.4.6', answers: ok(JSON_, 'notices') },
  'POST /witness/add-checkpoint': { summary: 'Witness a checkpoint (C2SP tlog-witness; self-authenticating)', who: 'public', section: 'A.4.7', body: [TEXT, 'add-checkpoint request'], answers: { ...ok(TEXT, 'cosignature lines'), 409: [TEXT, 'the witness holds another size'] } },
  'GET /feed': { summary: 'A page of changes to the current set after a cursor', who: READERS, section: 'A.5', query: { cursor: 'where the last page ended', limit: 'items per page', entries: '1: carry the entries that prove the page', wait: 'seconds to wait for news (1–60)', category: 'filter', alg: 'filter', media: 'filter', log: 'filter' }, answers: ok(JSON_, 'feed page') },
  'GET /feed/snapshot': { summary: 'The whole current set as of the served checkpoints, streamed', who: READERS, section: 'A.5.5', query: { format: 'jsonl, csv, txt or stix', entries: '1: each jsonl line ends with "entry", its stored signed entry in base64 (jsonl only; other formats: 400)', category: 'filter', alg: 'filter', media: 'filter', log: 'filter' }, answers: ok('application/x-ndjson', 'one indicator a line, then the cursor and checkpoints') },
  'GET /feed/events': { summary: 'Server-sent events: new cosigned checkpoints', who: READERS, section: 'A.5.8', answers: ok('text/event-stream', 'events') },
  'GET /feed/misp/manifest.json': { summary: 'The set as a MISP feed: its manifest', who: READERS, section: 'A.5.9', answers: ok(JSON_, 'MISP manifest') },
  'GET /feed/misp/hashes.csv': { summary: 'The set as a MISP feed: hashes.csv', who: READERS, section: 'A.5.9', query: { category: 'filter', alg: 'filter', media: 'filter', log: 'filter' }, answers: ok('text/csv', 'md5 of each value, event uuid') },
  'GET /feed/misp/:file{[^/]+\\.json}': { summary: 'The set as a MISP feed: the event', who: READERS, section: 'A.5.9', query: { category: 'filter', alg: 'filter', media: 'filter', log: 'filter' }, answers: { ...ok(JSON_, 'MISP event'), 404: [JSON_, 'not the feed\'s event'] } },
  'GET /taxii2/': { summary: 'TAXII 2.1 discovery', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'discovery') },
  'GET /taxii2/api/': { summary: 'TAXII 2.1 API root', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'API root') },
  'GET /taxii2/api/collections/': { summary: 'TAXII 2.1 collections', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'collections') },
  'GET /taxii2/api/collections/:cid/': { summary: 'TAXII 2.1 collection', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'collection') },
  'GET /taxii2/api/collections/:cid/manifest/': { summary: 'TAXII 2.1 manifest', who: READERS, section: 'A.6', query: { added_after: 'TAXII', limit: 'TAXII', next: 'TAXII', 'match[id]': 'TAXII', 'match[version]': 'TAXII', 'match[type]': 'TAXII' }, answers: ok('application/taxii+json;version=2.1', 'manifest') },
  'GET /taxii2/api/collections/:cid/objects/': { summary: 'TAXII 2.1 objects (STIX indicators)', who: READERS, section: 'A.6', query: { added_after: 'TAXII', limit: 'TAXII', next: 'TAXII', 'match[id]': 'TAXII', 'match[version]': 'TAXII', 'match[type]': 'TAXII' }, answers: ok('application/taxii+json;version=2.1', 'envelope') },
  'POST /taxii2/api/collections/:cid/objects/': { summary: 'Not offered: the collection is read-only', who: READERS, section: 'A.6.5', answers: { 403: ['application/taxii+json;version=2.1', 'read-only collection'] } },
  'PUT /taxii2/api/collections/:cid/objects/': { summary: 'Not offered', who: READERS, section: 'A.6.5', answers: { 405: ['application/taxii+json;version=2.1', 'not allowed'] } },
  'DELETE /taxii2/api/collections/:cid/objects/': { summary: 'Not offered', who: READERS, section: 'A.6.5', answers: { 405: ['application/taxii+json;version=2.1', 'not allowed'] } },
  'GET /taxii2/api/collections/:cid/objects/:oid/': { summary: 'TAXII 2.1 one object', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'envelope') },
  'POST /taxii2/api/collections/:cid/objects/:oid/': { summary: 'Not offered', who: READERS, section: 'A.6.5', answers: { 405: ['application/taxii+json;version=2.1', 'not allowed'] } },
  'PUT /taxii2/api/collections/:cid/objects/:oid/': { summary: 'Not offered', who: READERS, section: 'A.6.5', answers: { 405: ['application/taxii+json;version=2.1', 'not allowed'] } },
  'DELETE /taxii2/api/collections/:cid/objects/:oid/': { summary: 'Not offered: the collection is read-only', who: READERS, section: 'A.6.5', answers: { 403: ['application/taxii+json;version=2.1', 'read-only collection'] } },
  'GET /taxii2/api/collections/:cid/objects/:oid/versions/': { summary: 'TAXII 2.1 versions of one object', who: READERS, section: 'A.6', answers: ok('application/taxii+json;version=2.1', 'versions') },
  'GET /taxii2/api/status/:sid/': { summary: 'TAXII 2.1 status: none (nothing is ever added)', who: READERS, section: 'A.6.5', answers: { 404: ['application/taxii+json;version=2.1', 'no such status'] } },
  'GET /lookup/:alg/:hex': { summary: 'Everything the federation says about one value, with proofs', who: AUDITORS, section: 'A.7', query: { roster: '1: add the roster changes and their confirmations, with proofs' }, answers: ok(JSON_, 'provenance document') },
  'GET /stats': { summary: 'Counts of records by type, algorithm, category', who: 'public', section: 'A.8.1', answers: ok(JSON_, 'counts') },
  'GET /healthz': { summary: 'Liveness', who: 'public', section: 'A.8.4', answers: ok(JSON_, '{"status": "ok"}') },
  'GET /readyz': { summary: 'Readiness: the own log is current and signs', who: 'public', section: 'A.8.4', answers: { ...ok(JSON_, 'ready'), 503: [JSON_, 'not ready, with the own log\'s state'] } },
  'GET /openapi.json': { summary: 'This document', who: 'public', section: 'A.3', answers: ok(JSON_, 'OpenAPI 3.1') },
  'GET /': { summary: 'The dashboard', who: 'public', section: 'A.8.2', answers: ok('text/html', 'page') },
  'GET /dashboard/app.js': { summary: 'Dashboard script', who: 'public', section: 'A.8.2', answers: ok('text/javascript', 'script') },
  'GET /dashboard/app.css': { summary: 'Dashboard style', who: 'public', section: 'A.8.2', answers: ok('text/css', 'style') },
  'GET /dashboard/chart.umd.js': { summary: 'Chart.js for the dashboard', who: 'public', section: 'A.8.2', answers: ok('text/javascript', 'script') },
  'GET /dashboard.json': { summary: 'The dashboard\'s data', who: 'public', section: 'A.8.2', answers: ok(JSON_, 'figures') },
  'GET /report': { summary: 'The transparency report, every figure with its checkpoints', who: 'public', section: 'A.8.3', query: { from: 'period start', to: 'period end', format: 'json or html' }, answers: ok(JSON_, 'report') },
  'GET /access-log': { summary: 'Who read what, hash-chained', who: ['oversight'], section: 'A.9', query: { after: 'row', limit: 'rows', name: 'holder or address', role: 'role', from: 'time', to: 'time', format: 'json or csv', verify: '0: skip the chain check' }, answers: ok(JSON_, 'rows') },
  'POST /records': { summary: 'Publish records (Idempotency-Key honoured)', who: OPERATOR, section: 'A.10.1', body: [JSON_, '{"records": [record bodies]} (spec/schemas/record.schema.json without the header fields the node fills)'], answers: ok(JSON_, 'ids and indexes') },
  'POST /refs': { summary: 'The pseudonyms of case references', who: OPERATOR, section: 'A.10.1', body: [JSON_, 'raw references'], answers: ok(JSON_, 'pseudonyms') },
  'POST /admin/redactions': { summary: 'Redact an indicator\'s value', who: OPERATOR, section: 'A.10.2', body: [JSON_, 'target and reason'], answers: ok(JSON_, 'the redaction notice') },
  'GET /status': { summary: 'The node\'s status', who: OPERATOR, section: 'A.10.3', answers: ok(JSON_, 'status') },
  'POST /admin/tokens': { summary: 'Issue a token', who: OPERATOR, section: 'A.10.4', body: [JSON_, 'role, holder, expiry'], answers: ok(JSON_, 'the token, once') },
  'GET /admin/tokens': { summary: 'List tokens (never their secrets)', who: OPERATOR, section: 'A.10.4', answers: ok(JSON_, 'tokens') },
  'DELETE /admin/tokens/:id': { summary: 'Revoke a token', who: OPERATOR, section: 'A.10.4', answers: ok(JSON_, 'revoked') },
  'GET /metrics': { summary: 'Prometheus metrics', who: ['operator', 'metrics'], section: 'A.10.5', answers: ok('text/plain; version=0.0.4', 'metrics') },
  'GET /admin/backup': { summary: 'The store, for cairn node backup', who: OPERATOR, section: 'A.10.6', answers: ok('application/octet-stream', 'backup stream') },
  'POST /credentials': { summary: 'Issue a credential every member accepts', who: OPERATOR, section: 'A.10.7', body: [JSON_, 'holder, role, days'], answers: ok(JSON_, 'the credential, once') },
  'GET /credentials': { summary: 'Credentials this centre issued (never the credentials themselves)', who: OPERATOR, section: 'A.10.7', answers: ok(JSON_, 'issued credentials') },
  'POST /credentials/:id/revoke': { summary: 'Revoke a credential; the revocation reaches every member', who: OPERATOR, section: 'A.10.7', answers: ok(JSON_, 'revoked') },
  'POST /feedback': { summary: 'Report a record as a false or true positive', who: ['provider'], section: 'A.11.1', body: [JSON_, 'record, verdict, reason, ref'], answers: ok(JSON_, 'receipt') },
  'GET /feedback': { summary: 'The caller\'s reports and their outcomes', who: ['provider'], section: 'A.11.2', query: { record: 'one record' }, answers: ok(JSON_, 'receipts') },
  'GET /review': { summary: 'The review queue of reports on this centre\'s records', who: OPERATOR, section: 'A.11.3', query: { all: '1: decided ones too' }, answers: ok(JSON_, 'queue') },
  'GET /review/:target': { summary: 'The reports of one record', who: OPERATOR, section: 'A.11.3', answers: ok(JSON_, 'reports') },
  'POST /review/decide': { summary: 'Confirm or revoke a reported record', who: OPERATOR, section: 'A.11.3', body: [JSON_, 'record, decision, reason'], answers: ok(JSON_, 'the decision and the record written') },
  'GET /mirror-auth': { summary: 'For a proxy\'s auth_request in front of a static mirror: is this a provider or auditor token', who: ['provider', 'auditor'], section: 'A.12.2', answers: { 204: ['', 'the token may read the mirror\'s restricted files'] } },
  'GET /mirror/*': { summary: 'A file of the node\'s S3 mirror: a redirect to a URL presigned for 300 s (entry bundles and snapshots: provider or auditor token)', who: 'public', section: 'A.12.3', answers: { 302: ['', 'Location: the presigned URL'], 401: [JSON_, 'a restricted file, without a valid token'], 403: [JSON_, 'a restricted file, with a token of another role'], 404: [JSON_, 'not a path of the mirror, or the node has no S3 mirror'] } },
}

/** A route as the document keys it: TAXII's paths without their trailing slash are the same operations. */
export function operationKey(method: string, path: string): string {
  const p = path.startsWith('/taxii2') && !path.endsWith('/') ? `${path}/` : path
  return `${method} ${p}`
}

/** The app's path syntax in OpenAPI's: `:name{…}` and `:name` → `{name}`, a trailing `*` → `{path}`. */
function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)(\{[^}]*\})?/g, '{$1}').replace(/\/\*$/, '/{path}')
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, request_id: { type: 'string' } } } },
}

/** The OpenAPI 3.1 document of the operations in `OPERATIONS`. */
export function openApiDocument(info: { federation: string; origin: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [method, path] = key.split(' ') as [string, string]
    const oaPath = openApiPath(path)
    const params = [...oaPath.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }))
    for (const [name, description] of Object.entries(op.query ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description } as never)
    const responses: Record<string, unknown> = {}
    for (const [status, [type, description]] of Object.entries(op.answers)) responses[status] = type ? { description, content: { [type]: {} } } : { description }
    if (op.who !== 'public') {
      responses['401'] ??= { description: 'no token, or not a valid one', content: { [JSON_]: { schema: { $ref: '#/components/schemas/Error' } } } }
      responses['403'] ??= { description: `the token's role may not call this (allowed: ${op.who.join(', ')})`, content: { [JSON_]: { schema: { $ref: '#/components/schemas/Error' } } } }
    }
    responses['429'] = { description: 'rate limited (Retry-After)', content: { [JSON_]: { schema: { $ref: '#/components/schemas/Error' } } } }
    responses.default = { description: 'an error: spec/errors.md', content: { [JSON_]: { schema: { $ref: '#/components/schemas/Error' } } } }
    const operation: Record<string, unknown> = {
      summary: op.summary,
      description: `spec/api.md §${op.section}. Who: ${op.who === 'public' ? 'anyone' : op.who.join(', ')}.`,
      operationId: `${method.toLowerCase()}${oaPath.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      'x-cairn-roles': op.who,
      responses,
    }
    if (params.length) operation.parameters = params
    if (op.who !== 'public') operation.security = [{ bearer: [] }]
    if (op.body) operation.requestBody = { required: true, description: op.body[1], content: { [op.body[0]]: {} } }
    ;(paths[oaPath] ??= {})[method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    info: { title: `cairn node ${info.origin}`, version: info.version, description: `The HTTP API of a node of the ${info.federation} federation. The contract in full: spec/api.md.` },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token the node\'s operator issued (cairn token create); its role decides what it may call.' } },
      schemas: { Error: ERROR_SCHEMA },
    },
  }
}
