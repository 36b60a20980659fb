// lookout review UI: an event list with filters and pages, and an event
// view with keyboard triage. Plain DOM, no framework, nothing from a CDN.
'use strict';

const $ = (sel) => document.querySelector(sel);
const state = { csrf: '', page: [], total: 0, offset: 0, limit: 50, selected: 0, open: null };

function setMessage(text) { $('#message').textContent = text; }

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options });
  if (!res.ok) {
    const err = new Error(`${res.status}: ${(await res.text()).trim()}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

function cell(text) { const td = document.createElement('td'); td.textContent = text; return td; }
function fmtTime(s) { return s == null ? '' : `${s.toFixed(1)} s`; }

// The run's name, with a badge when its run is tampered or unfinished
// (the server's check of the run; the badge's title says what failed).
function runCell(e) {
  const td = cell(e.run);
  if (e.run_state && e.run_state !== 'verified') {
    const badge = document.createElement('span');
    badge.className = `badge run-${e.run_state}`;
    badge.textContent = e.run_state;
    badge.title = e.run_problem || '';
    td.append(' ', badge);
  }
  return td;
}

function query() {
  const params = new URLSearchParams();
  const form = new FormData($('#filters'));
  for (const [k, v] of form.entries()) if (v !== '') params.set(k, k === 'desc' ? 'true' : v);
  params.set('offset', state.offset);
  params.set('limit', state.limit);
  return params;
}

async function loadList() {
  const data = await api(`/api/events?${query()}`);
  state.page = data.events;
  state.total = data.total;
  state.selected = Math.min(state.selected, Math.max(0, state.page.length - 1));
  renderList();
}

function renderList() {
  const body = $('#event-list tbody');
  body.replaceChildren();
  state.page.forEach((e, i) => {
    const tr = document.createElement('tr');
    tr.dataset.run = e.run;
    tr.dataset.id = e.id;
    if (i === state.selected) tr.classList.add('selected');
    const td = document.createElement('td');
    if (e.thumb) {
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.src = e.thumb;
      img.alt = e.id;
      td.append(img);
    }
    const status = cell(e.status);
    status.className = `status-${e.status}`;
    tr.append(td, cell(e.signature), cell(String(e.peak_count)), cell(e.score.toFixed(2)), cell(e.source),
      cell(`${fmtTime(e.start_s)} – ${fmtTime(e.end_s)}`), runCell(e), status);
    tr.addEventListener('click', () => { state.selected = i; openEvent(i); });
    body.append(tr);
  });
  const last = Math.min(state.offset + state.page.length, state.total);
  $('#page-info').textContent = state.total ? `${state.offset + 1}–${last} of ${state.total}` : 'no events';
}

function showList() {
  state.open = null;
  $('#event-view').hidden = true;
  $('#list-view').hidden = false;
  loadList().catch((e) => setMessage(e.message));
}

async function openEvent(i) {
  const e = state.page[i];
  if (!e) return;
  const data = await api(`/api/events/${encodeURIComponent(e.run)}/${encodeURIComponent(e.id)}`);
  state.open = { index: i, row: e, data };
  $('#list-view').hidden = true;
  $('#event-view').hidden = false;
  renderEvent();
}

function renderEvent() {
  const { row, data } = state.open;
  const ev = data.event;
  $('#event-title').textContent = `${row.signature}: ${ev.reason || ''} (${row.id})`;
  const badge = $('#status-badge');
  badge.textContent = row.status;
  badge.className = `badge status-${row.status}`;
  const art = ev.artefacts || {};
  $('#frame-img').src = art.frame ? `/files/${encodeURIComponent(row.run)}/${art.frame}` : '';
  $('#annotated-img').src = art.annotated ? `/files/${encodeURIComponent(row.run)}/${art.annotated}` : '';
  $('#note').value = '';

  const boxes = $('#boxes tbody');
  boxes.replaceChildren();
  for (const t of (ev.best_frame && ev.best_frame.tracks) || []) {
    const tr = document.createElement('tr');
    tr.append(cell(String(t.track)), cell(t.class), cell(t.role || ''), cell((t.score || 0).toFixed(2)),
      cell((t.box || []).map((v) => Math.round(v)).join(', ')));
    boxes.append(tr);
  }

  const meta = $('#meta');
  meta.replaceChildren();
  const add = (k, v) => {
    if (v == null || v === '') return;
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = typeof v === 'string' ? v : JSON.stringify(v);
    meta.append(dt, dd);
  };
  add('time', `${fmtTime(ev.start_s)} – ${fmtTime(ev.end_s)} (best frame ${fmtTime(ev.best_frame && ev.best_frame.pts_s)})`);
  add('source', ev.source && ev.source.path);
  if (ev.geo) {
    // How the place was found, best first: the raster's geotransform or
    // the telemetry's frame corners, the camera's pointing angles over flat
    // ground, or the frame centre alone (no footprint).
    const accuracy = {
      corners: 'from the frame corners in the telemetry',
      pointing: 'from the camera position and pointing angles (flat ground)',
      frame_center: 'frame centre only: the objects are somewhere in the frame',
    }[ev.geo.method] || 'from the raster georeferencing';
    add('place', `${ev.geo.lat.toFixed(6)}, ${ev.geo.lon.toFixed(6)} (${accuracy})`);
  }
  if (ev.best_frame && ev.best_frame.length_m != null) {
    add('size', `${ev.best_frame.length_m.toFixed(1)} m long, ${ev.best_frame.area_m2.toFixed(1)} m²`);
  }
  add('count', `${ev.count} (peak ${ev.peak_count})`);
  add('model', ev.model && ev.model.path);
  add('model sha256', ev.model && ev.model.sha256);
  add('thresholds', ev.thresholds);
  add('signature config', ev.signature_config);
  add('config sha256', ev.signature_config_sha256);
  add('run', data.run.id);
  if (row.run_state && row.run_state !== 'verified') {
    add('run state', `${row.run_state}: ${row.run_problem}`);
    if (row.run_state === 'tampered') setMessage(`run ${row.run} does not verify: verdicts on its events are refused`);
  }
  add('sealed by', data.run.signing && data.run.signing.public_key);

  const audit = $('#audit');
  audit.replaceChildren();
  for (const a of data.audit) {
    const li = document.createElement('li');
    li.textContent = `${a.at} ${a.reviewer}: ${a.from_status} → ${a.to_status}${a.note ? ` (${a.note})` : ''}`;
    audit.append(li);
  }
}

async function move(delta) {
  const i = state.selected + delta;
  if (i >= 0 && i < state.page.length) {
    state.selected = i;
  } else if (i >= state.page.length && state.offset + state.page.length < state.total) {
    state.offset += state.limit; state.selected = 0; await loadList();
  } else if (i < 0 && state.offset > 0) {
    state.offset = Math.max(0, state.offset - state.limit); await loadList(); state.selected = state.page.length - 1;
  } else {
    return;
  }
  if (state.open) await openEvent(state.selected); else renderList();
}

async function decide(status) {
  if (!state.open) return;
  const reviewer = $('#reviewer').value.trim();
  if (!reviewer) { setMessage('enter your name as reviewer first'); $('#reviewer').focus(); return; }
  const { row } = state.open;
  try {
    const res = await api(`/api/events/${encodeURIComponent(row.run)}/${encodeURIComponent(row.id)}/verdict`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': state.csrf },
      // `expect` is the status this reviewer saw: when another reviewer
      // decided in between (another tab, another serve on the same store),
      // the server refuses with 409 instead of overwriting their verdict.
      body: JSON.stringify({ status, reviewer, note: $('#note').value, expect: row.status }),
    });
    row.status = res.audit.to_status;
    setMessage(`${row.id}: ${res.audit.from_status} → ${res.audit.to_status}`);
    // Triage goes on with the next event.
    if (state.selected + 1 < state.page.length || state.offset + state.page.length < state.total) await move(1);
    else await openEvent(state.selected);
  } catch (e) {
    if (e.status === 409) {
      // Show the event as it is now, with the other reviewer's verdict.
      try {
        const data = await api(`/api/events/${encodeURIComponent(row.run)}/${encodeURIComponent(row.id)}`);
        if (data.row) Object.assign(row, data.row);
        state.open.data = data;
        renderEvent();
      } catch (_) { /* the conflict message below says what to do */ }
    }
    setMessage(e.message);
  }
}

document.addEventListener('keydown', (ev) => {
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName);
  if (ev.key === 'Escape') {
    if (typing) { document.activeElement.blur(); return; }
    if (state.open) showList();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const keys = {
    j: () => move(1), ArrowDown: () => move(1), ArrowRight: () => move(1),
    k: () => move(-1), ArrowUp: () => move(-1), ArrowLeft: () => move(-1),
    Enter: () => { if (!state.open) return openEvent(state.selected); },
    c: () => decide('confirmed'), r: () => decide('rejected'), e: () => decide('escalated'),
    n: () => { if (state.open) $('#note').focus(); },
  };
  const f = keys[ev.key];
  if (f) { ev.preventDefault(); Promise.resolve(f()).catch((e) => setMessage(e.message)); }
});

async function start() {
  const s = await api('/api/session');
  state.csrf = s.csrf;
  const fill = (name, values) => {
    const sel = $(`#filters [name=${name}]`);
    for (const v of values) { const o = document.createElement('option'); o.value = v; o.textContent = v; sel.append(o); }
  };
  fill('status', s.statuses); fill('signature', s.signatures); fill('source', s.sources); fill('run', s.runs);
  const reviewer = $('#reviewer');
  reviewer.value = localStorage.getItem('lookout.reviewer') || '';
  reviewer.addEventListener('change', () => localStorage.setItem('lookout.reviewer', reviewer.value.trim()));
  $('#filters').addEventListener('change', () => { state.offset = 0; state.selected = 0; loadList().catch((e) => setMessage(e.message)); });
  $('#filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('#prev-page').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); loadList(); });
  $('#next-page').addEventListener('click', () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; loadList(); } });
  $('#back').addEventListener('click', showList);
  $('#confirm').addEventListener('click', () => decide('confirmed'));
  $('#reject').addEventListener('click', () => decide('rejected'));
  $('#escalate').addEventListener('click', () => decide('escalated'));
  for (const z of document.querySelectorAll('.zoom')) z.addEventListener('click', () => z.classList.toggle('zoomed'));
  await loadList();
}

start().catch((e) => setMessage(e.message));
