/*
 * The cairn dashboard: polls /dashboard.json every few seconds and draws it
 * with Chart.js (served by the node). Every chart has a caption, a one-line
 * text summary (also its accessible name) and a data table behind it. All
 * text goes in with textContent: nothing from the server is parsed as HTML.
 *
 * ?selftest adds, after the first drawing, a JSON summary of what each chart
 * shows (data points, coloured pixels) to <html data-selftest>, for the
 * headless-browser test.
 */
'use strict'
;(function () {
  const POLL_MS = 5000
  const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#8C6D31', '#7F7F7F', '#F0E442']
  const REASON_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#7F7F7F']
  const charts = {}
  let lastOk = 0
  let selftestDone = false

  const $ = (id) => document.getElementById(id)
  const fmt = (n) => Number(n).toLocaleString('en-GB')
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue
      if (k === 'class') e.className = v
      else if (k === 'text') e.textContent = v
      else e.setAttribute(k, v)
    }
    for (const c of children) if (c !== undefined && c !== null) e.append(c)
    return e
  }
  function pad(n) { return String(n).padStart(2, '0') }
  function isoTime(s) { return new Date(s * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC') }
  function age(s) {
    if (s === null || s === undefined) return 'never'
    if (s < 90) return `${s} s ago`
    if (s < 5400) return `${Math.round(s / 60)} min ago`
    if (s < 172800) return `${Math.round(s / 3600)} h ago`
    return `${Math.round(s / 86400)} days ago`
  }
  const label = (k) => String(k).replace(/_/g, ' ')

  // -------------------------------------------------------------------------
  // Chart figures: caption, summary line, canvas, data table.

  function figure(id, caption, wide) {
    let f = $(`fig-${id}`)
    if (f) return f
    f = el('figure', { class: `chart${wide ? ' wide' : ''}`, id: `fig-${id}` },
      el('figcaption', { id: `cap-${id}`, text: caption }),
      el('p', { class: 'summary', id: `sum-${id}` }),
      el('div', { class: 'canvas-box' }, el('canvas', { id: `cv-${id}`, role: 'img', 'aria-labelledby': `cap-${id}`, 'aria-describedby': `sum-${id}` })),
      el('details', {}, el('summary', { text: 'Show the figures as a table' }), el('div', { class: 'scroll', id: `tbl-${id}` })))
    $('charts').append(f)
    return f
  }

  function table(id, head, rows) {
    const t = el('table', { class: 'data' })
    t.append(el('thead', {}, el('tr', {}, ...head.map((h, i) => el('th', { scope: 'col', class: i > 0 ? 'num' : '', text: h })))))
    const tb = el('tbody')
    for (const r of rows) tb.append(el('tr', {}, ...r.map((c, i) => (i === 0 ? el('th', { scope: 'row', text: c }) : el('td', { class: 'num', text: typeof c === 'number' ? fmt(c) : c })))))
    t.append(tb)
    $(`tbl-${id}`).replaceChildren(t)
  }

  function draw(id, config) {
    if (typeof Chart === 'undefined') return // the summaries and tables still show the figures
    const existing = charts[id]
    if (existing && existing.config.type === config.type) {
      existing.data.labels = config.data.labels
      existing.data.datasets = config.data.datasets
      existing.options.scales = config.options.scales
      existing.update('none')
      return
    }
    if (existing) existing.destroy()
    charts[id] = new Chart($(`cv-${id}`), config)
  }

  const baseOptions = () => ({
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
  })

  /** Stacked bars: one bar per key, one stack segment per centre. */
  function stackedByCentre(id, caption, logs, keys, valueOf, dimension, noun) {
    figure(id, caption)
    const shown = keys.filter((k) => logs.some((l) => (valueOf(l)[k] || 0) > 0))
    const ks = shown.length ? shown : keys
    const datasets = logs.map((l, i) => ({ label: l.name, data: ks.map((k) => valueOf(l)[k] || 0), backgroundColor: COLOURS[i % COLOURS.length] }))
    draw(id, {
      type: 'bar',
      data: { labels: ks.map(label), datasets },
      options: { ...baseOptions(), scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    })
    const totals = ks.map((k) => logs.reduce((n, l) => n + (valueOf(l)[k] || 0), 0))
    const all = totals.reduce((a, b) => a + b, 0)
    const top = ks.map((k, i) => [k, totals[i]]).sort((a, b) => b[1] - a[1]).slice(0, 3).filter((x) => x[1] > 0)
    $(`sum-${id}`).textContent = all === 0 ? `No ${noun} yet.` : `${fmt(all)} ${noun} in all; most: ${top.map(([k, n]) => `${label(k)} ${fmt(n)}`).join(', ')}.`
    table(id, [dimension, ...logs.map((l) => l.name), 'total'],
      ks.map((k, i) => [label(k), ...logs.map((l) => valueOf(l)[k] || 0), totals[i]]))
    return all
  }

  /** Each log's growth on one common time axis (value at t = entries at the last sample at or before t), so the areas stack. */
  function commonTimeline(series, now) {
    const xs = new Set()
    for (const s of series) for (const [t] of s.growth) xs.add(t)
    if (xs.size === 0) return { xs: [], values: series.map(() => []) }
    const sorted = [...xs].sort((a, b) => a - b)
    const first = sorted[0] - 1 // every log is empty before its first entry
    const axis = [first, ...sorted, ...(now > sorted[sorted.length - 1] ? [now] : [])]
    const values = series.map((s) => {
      let k = -1
      return axis.map((t) => {
        while (k + 1 < s.growth.length && s.growth[k + 1][0] <= t) k++
        return k < 0 ? 0 : s.growth[k][1]
      })
    })
    return { xs: axis, values }
  }

  function growthChart(d) {
    const id = 'growth'
    figure(id, 'Growth of the federation: entries in each centre\'s log over time (stacked)', true)
    const series = d.series
    const { xs, values } = commonTimeline(series, Math.floor(d.generated / 1000))
    const span = xs.length ? xs[xs.length - 1] - xs[0] : 0
    const tick = (v) => {
      const dt = new Date(v * 1000)
      const day = `${dt.getUTCFullYear()}-${pad(dt.getUTCMonth() + 1)}-${pad(dt.getUTCDate())}`
      const hm = `${pad(dt.getUTCHours())}:${pad(dt.getUTCMinutes())}`
      if (span > 3 * 86400) return day
      if (span > 3600) return `${span > 86400 ? day.slice(5) + ' ' : ''}${hm}`
      return `${hm}:${pad(dt.getUTCSeconds())}`
    }
    draw(id, {
      type: 'line',
      data: {
        datasets: series.map((s, i) => ({
          label: s.name, data: xs.map((x, k) => ({ x, y: values[i][k] })),
          borderColor: COLOURS[i % COLOURS.length], backgroundColor: `${COLOURS[i % COLOURS.length]}B3`,
          fill: i === 0 ? 'origin' : '-1', borderWidth: 1.5, pointRadius: 0, tension: 0,
        })),
      },
      options: {
        ...baseOptions(),
        interaction: { mode: 'index', intersect: false },
        plugins: { ...baseOptions().plugins, tooltip: { callbacks: { title: (items) => (items.length ? isoTime(items[0].parsed.x) : '') } } },
        scales: {
          x: { type: 'linear', min: xs[0], max: xs[xs.length - 1], ticks: { callback: tick, maxTicksLimit: 8 }, title: { display: true, text: 'time (UTC)' } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'entries' } },
        },
      },
    })
    const last = (s) => (s.growth.length ? s.growth[s.growth.length - 1][1] : 0)
    const total = series.reduce((n, s) => n + last(s), 0)
    $(`sum-${id}`).textContent = series.length === 0 ? 'No logs yet.'
      : `${fmt(total)} entries in ${series.length} logs: ${series.map((s) => `${s.name} ${fmt(last(s))}`).join(', ')}.`
    table(id, ['centre', 'entries', 'first entry', 'latest entry'],
      series.map((s) => [s.name, last(s), s.growth.length ? isoTime(s.growth[0][0]) : '–', s.growth.length ? isoTime(s.growth[s.growth.length - 1][0]) : '–']))
  }

  function disputesChart(d) {
    const id = 'disputes'
    figure(id, 'Disputes, by the centre whose indicator is disputed')
    const names = d.series.map((s) => s.name)
    const datasets = d.series.map((s, i) => ({
      label: `by ${s.name}`, backgroundColor: COLOURS[i % COLOURS.length],
      data: names.map((target) => Object.values(s.disputes[target] || {}).reduce((a, b) => a + b, 0)),
    }))
    draw(id, {
      type: 'bar',
      data: { labels: names, datasets },
      options: { ...baseOptions(), scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    })
    const rows = []
    for (const s of d.series) {
      for (const [target, reasons] of Object.entries(s.disputes)) {
        for (const [reason, n] of Object.entries(reasons)) rows.push([s.name, target, label(reason), n])
      }
    }
    const total = rows.reduce((n, r) => n + r[3], 0)
    $(`sum-${id}`).textContent = total === 0 ? 'No disputes.' : `${fmt(total)} disputes; ${names.map((t, i) => [t, datasets.reduce((n, ds) => n + ds.data[i], 0)]).filter((x) => x[1] > 0).map(([t, n]) => `${fmt(n)} against ${t}`).join(', ')}.`
    const t = el('table', { class: 'data' })
    t.append(el('thead', {}, el('tr', {}, ...['disputed by', 'against', 'reason', 'count'].map((h) => el('th', { scope: 'col', text: h })))))
    const tb = el('tbody')
    for (const r of rows) tb.append(el('tr', {}, el('th', { scope: 'row', text: r[0] }), el('td', { text: r[1] }), el('td', { text: r[2] }), el('td', { class: 'num', text: fmt(r[3]) })))
    if (rows.length === 0) tb.append(el('tr', {}, el('td', { colspan: '4', text: 'none' })))
    t.append(tb)
    $(`tbl-${id}`).replaceChildren(t)
  }

  // -------------------------------------------------------------------------
  // Header, alerts, key figures, tables.

  function kpis(d) {
    const t = d.totals
    const items = [
      ['Indicators in force', fmt(t.current_set_size), 'current set, not revoked'],
      ['Indicators added', fmt(t.indicators), 'all centres, all time'],
      ['Revocations', fmt(t.revocations), t.redacted ? `${fmt(t.redacted)} redacted on legal order` : ''],
      ['Disputes', fmt(t.disputes), `${fmt(t.confirmations)} confirmations`],
      ['Logs fully cosigned', `${t.logs_fully_cosigned} / ${t.logs}`, 'by every other witness', t.logs_fully_cosigned === t.logs ? 'good' : 'bad'],
      ['Peers connected', `${t.peers_connected} / ${t.peers_expected}`, 'federation members', t.peers_connected === t.peers_expected ? 'good' : 'bad'],
    ]
    $('kpis').replaceChildren(...items.map(([dt, dd, small, cls]) => el('div', { class: `kpi ${cls || ''}` }, el('dt', { text: dt }), el('dd', {}, dd, small ? el('small', { text: small }) : null))))
  }

  function header(d) {
    $('federation').textContent = d.federation
    $('node-line').textContent = `Oversight dashboard · node ${d.origin}`
    document.title = `${d.status.level === 'alert' ? '⚠ ' : ''}cairn ${d.federation} — dashboard`
    const s = $('status')
    s.className = `status status-${d.status.level}`
    s.textContent = d.status.headline
    $('updated').textContent = `Updated ${new Date(d.generated).toISOString().slice(11, 19)} UTC · refreshes every ${POLL_MS / 1000} s`
    $('alerts').replaceChildren(...d.alerts.map((a) => el('p', { class: `alert alert-${a.level}`, role: a.level === 'alert' ? 'alert' : null, text: a.text })))
    const ix = $('indexing')
    ix.hidden = d.indexing.complete
    ix.textContent = d.indexing.complete ? '' : `Counting entries for the charts: ${fmt(d.indexing.indexed)} of ${fmt(d.indexing.total)} (${Math.floor((100 * d.indexing.indexed) / Math.max(1, d.indexing.total))}%).`
  }

  function pill(level, text) { return el('span', { class: `pill pill-${level}`, text }) }

  function witnessTable(d) {
    const rows = d.witness.map((w) => {
      const state = w.frozen ? pill('alert', 'FROZEN: equivocation') : w.missing.length && w.checkpoint_size > 0 ? pill('warning', 'missing cosignatures') : w.behind > 0 ? pill('warning', `syncing (${fmt(w.behind)} to go)`) : pill('ok', 'ok')
      return el('tr', { class: w.frozen ? 'row-alert' : '' },
        el('th', { scope: 'row' }, el('span', { class: 'swatch' }), w.name),
        el('td', { class: 'num', text: fmt(w.size) }),
        el('td', { class: 'num', text: fmt(w.checkpoint_size) }),
        el('td', { class: 'num', text: age(w.checkpoint_age_s) }),
        el('td', { text: w.cosigned_by.length ? `${w.cosigned_by.length} of ${w.witnesses.length}: ${w.cosigned_by.join(', ')}` : `0 of ${w.witnesses.length}` }),
        el('td', { text: w.missing.join(', ') || '—' }),
        el('td', {}, state))
    })
    $('witness').tBodies[0].replaceChildren(...rows)
    // Swatches match the chart colours of each centre (set through the CSSOM, which the page's CSP allows).
    const sw = $('witness').querySelectorAll('.swatch')
    sw.forEach((s, i) => { s.style.background = COLOURS[i % COLOURS.length] })
  }

  function peersTable(d) {
    $('peers').tBodies[0].replaceChildren(...d.peers.map((p) => el('tr', {},
      el('th', { scope: 'row', text: p.self ? `${p.name} (this node)` : p.name }),
      el('td', { text: p.roles.join(', ') || '—' }),
      el('td', { text: p.active ? 'active' : 'removed' }),
      el('td', {}, p.self ? pill('ok', 'self') : p.connected ? pill('ok', 'connected') : pill(p.active ? 'warning' : 'ok', 'not connected')),
      el('td', {}, el('code', { text: p.peer_id })))))
  }

  function render(d) {
    header(d)
    kpis(d)
    growthChart(d)
    const logs = d.stats.logs.map((l) => ({ name: l.name, counts: l.counts, series: d.series.find((s) => s.origin === l.origin) || { by_kind: {}, by_media: {} } }))
    stackedByCentre('category', 'Indicators added, by category', logs, ['A1', 'A2', 'B1', 'B2'], (l) => l.counts.by_category, 'category', 'indicators')
    stackedByCentre('alg', 'Indicators added, by hash algorithm', logs, ['md5', 'sha1', 'sha256', 'pdq', 'photodna', 'tmk_pdqf', 'url_sha256'], (l) => l.counts.by_alg, 'algorithm', 'indicators')
    stackedByCentre('kind', 'Indicators added, by kind', logs, ['known_material', 'new_material', 'solicitation', 'url'], (l) => l.series.by_kind, 'kind', 'indicators')
    stackedByCentre('media', 'Indicators added, by media', logs, ['image', 'video', 'text', 'url'], (l) => l.series.by_media, 'media', 'indicators')
    stackedByCentre('reasons', 'Revocations, by reason', logs, ['false_positive', 'legal_order', 'duplicate', 'reclassified', 'expired'], (l) => l.counts.revocations_by_reason, 'reason', 'revocations')
    disputesChart(d)
    witnessTable(d)
    peersTable(d)
  }

  // -------------------------------------------------------------------------
  // Self-test for the headless-browser check.

  function colouredPixels(canvas) {
    const ctx = canvas.getContext('2d')
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height)
    let n = 0
    for (let i = 0; i < data.length; i += 4) {
      const mx = Math.max(data[i], data[i + 1], data[i + 2])
      const mn = Math.min(data[i], data[i + 1], data[i + 2])
      if (data[i + 3] > 128 && mx - mn > 60) n++
    }
    return n
  }

  function selftest() {
    const out = { charts: {}, kpis: $('kpis').children.length, status: $('status').textContent, tables: {} }
    for (const [id, c] of Object.entries(charts)) {
      const points = c.data.datasets.reduce((n, ds) => n + ds.data.filter((v) => (typeof v === 'number' ? v > 0 : v && v.y > 0)).length, 0)
      out.charts[id] = { type: c.config.type, datasets: c.data.datasets.length, points, pixels: colouredPixels(c.canvas), table_rows: $(`tbl-${id}`).querySelectorAll('tbody tr').length }
    }
    out.tables.witness = $('witness').tBodies[0].rows.length
    out.tables.peers = $('peers').tBodies[0].rows.length
    document.documentElement.setAttribute('data-selftest', JSON.stringify(out))
  }

  // -------------------------------------------------------------------------

  async function poll() {
    try {
      const res = await fetch('/dashboard.json', { cache: 'no-store' })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      render(await res.json())
      lastOk = Date.now()
      if (!selftestDone && /[?&]selftest\b/.test(location.search)) {
        selftestDone = true
        selftest()
      }
    } catch (e) {
      const s = $('status')
      s.className = 'status status-offline'
      s.textContent = `Cannot reach the node${lastOk ? ` since ${new Date(lastOk).toISOString().slice(11, 19)} UTC` : ''}; retrying`
    } finally {
      setTimeout(() => { if (!document.hidden) poll(); else document.addEventListener('visibilitychange', poll, { once: true }) }, POLL_MS)
    }
  }

  // -------------------------------------------------------------------------
  // The review queue, behind the operator token (sessionStorage: this tab only).

  async function loadReview() {
    const token = sessionStorage.getItem('cairn-operator-token')
    const state = $('review-state')
    if (!token) return
    try {
      const res = await fetch(`/review${$('review-all').checked ? '?all=1' : ''}`, { cache: 'no-store', headers: { authorization: `Bearer ${token}` } })
      const body = await res.json()
      if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`)
      const rows = body.queue.map((q) => el('tr', {},
        el('th', { scope: 'row' }, el('code', { text: q.record })),
        el('td', { text: q.alg }), el('td', { text: q.category }),
        el('td', { class: 'num', text: fmt(q.reports) }), el('td', { class: 'num', text: fmt(q.false_positive) }),
        el('td', { class: 'num', text: fmt(q.true_positive) }), el('td', { class: 'num', text: fmt(q.providers) }),
        el('td', { text: new Date(q.first_received).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' }),
        el('td', { text: q.state === 'open' ? 'open' : `${q.state === 'revoke' ? 'revoked' : 'confirmed'} (${q.outcome.record.slice(0, 12)}…)` })))
      $('review').tBodies[0].replaceChildren(...rows)
      $('review').hidden = rows.length === 0
      state.textContent = `${rows.length} record(s)${$('review-all').checked ? '' : ' open'}; ${fmt(body.stats.pending)} report(s) made here still pending delivery`
    } catch (e) {
      $('review').hidden = true
      state.textContent = `Cannot show the queue: ${e.message}`
    }
  }
  $('review-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const t = $('review-token').value.trim()
    if (t) sessionStorage.setItem('cairn-operator-token', t)
    $('review-token').value = ''
    loadReview()
  })
  $('review-all').addEventListener('change', loadReview)
  setInterval(() => { if (!document.hidden) loadReview() }, POLL_MS * 3)
  loadReview()

  if (typeof Chart !== 'undefined') {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily
    Chart.defaults.color = '#3d444d'
  }
  poll()
})()
