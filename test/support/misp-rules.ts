/** The MISP core format's field rules (MISP/misp-rfc misp-core-format: Event, Attribute, Tag), written from that document; shared by the export and the node's feed tests. */
import * as assert from 'uvu/assert'

/** Field rules of the MISP core format (misp-rfc misp-core-format), checked as that document states them. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const SECONDS = /^\d+$/
const PAYLOAD_DELIVERY_TYPES = new Set(['md5', 'sha1', 'sha256', 'other', 'text'])
export function checkMispEvent(e: Record<string, unknown>) {
  assert.match(String(e.uuid), UUID, 'uuid MUST be present')
  assert.type(e.info, 'string', 'info MUST be present')
  assert.ok((e.info as string).length <= 256 && !/\n/.test(e.info as string), 'info SHOULD NOT be over 256 characters nor hold new lines')
  assert.type(e.published, 'boolean')
  assert.match(String(e.date), /^\d{4}-\d{2}-\d{2}$/, 'date is ISO 8601, date only')
  assert.match(String(e.timestamp), SECONDS)
  assert.match(String(e.publish_timestamp), SECONDS)
  assert.ok(['1', '2', '3', '4'].includes(e.threat_level_id as string))
  assert.ok(['0', '1', '2'].includes(e.analysis as string))
  assert.ok(['0', '1', '2', '3', '4'].includes(e.distribution as string))
  const orgc = e.Orgc as Record<string, unknown>
  assert.match(String(orgc.uuid), UUID)
  assert.type(orgc.name, 'string')
  for (const t of e.Tag as Record<string, unknown>[]) assert.type(t.name, 'string', 'a tag name MUST be present')
  for (const a of e.Attribute as Record<string, unknown>[]) {
    assert.match(String(a.uuid), UUID)
    assert.is(a.category, 'Payload delivery')
    assert.ok(PAYLOAD_DELIVERY_TYPES.has(a.type as string), `type ${a.type} is valid for category Payload delivery`)
    assert.type(a.value, 'string')
    assert.type(a.to_ids, 'boolean')
    assert.type(a.deleted, 'boolean')
    assert.match(String(a.timestamp), SECONDS)
    assert.ok(['0', '1', '2', '3', '4', '5'].includes(a.distribution as string))
    for (const t of a.Tag as Record<string, unknown>[]) assert.type(t.name, 'string')
  }
}

