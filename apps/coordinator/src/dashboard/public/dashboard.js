/* global document, window, EventSource */
// The coordinator's live dashboard: fed by GET /events (server-sent events). The runs table keeps
// active runs in view and finished ones folded (a filter by name, id or state finds them); a run's
// card with its charts (run-cards.js) opens on a click, running runs' by themselves.
// Every string that comes from data goes into the page through textContent, never as markup.
'use strict';

(function () {
  const { el, $, num, pct, rate, duration, clock, ago, epochText, classifies, FINISHED } = window.nnqUi;
  const cards = window.nnqCards;
  /** Running runs whose cards open by themselves (the newest). */
  const AUTO_OPEN = 4;
  /** Finished rows drawn at once; "show more" adds as many. */
  const PAGE_ROWS = 100;
  /** Columns of the runs table (index.html). */
  const COLUMNS = 10;
  const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'];

  /** What the page shows, for people poking in the console and for the end-to-end test. */
  const state = { connected: false, events: 0, runs: {}, workers: 0, queue: {}, rows: 0, firstRenderMs: null };
  window.nnqDashboard = state;

  /** Run records by id, and their ids newest first. */
  const runs = new Map();
  let order = [];
  /** Table rows by run id, rebuilt only when the record changes. */
  const rowCache = new Map();
  /** Cards opened or closed by a click (the rest follow AUTO_OPEN). */
  const opened = new Set();
  const closed = new Set();
  const view = { text: '', state: '', showFinished: false, finishedRows: PAGE_ROWS };
  let workers = [];

  // ---- runs table ----

  function matches(r) {
    if (view.state && r.state !== view.state) return false;
    if (!view.text) return true;
    const t = view.text.toLowerCase();
    return r.name.toLowerCase().includes(t) || r.id.toLowerCase().includes(t);
  }

  function renderRuns() {
    const visible = order.map((id) => runs.get(id)).filter(matches);
    const active = visible.filter((r) => !FINISHED.includes(r.state));
    const finished = visible.filter((r) => FINISHED.includes(r.state));
    // a filter shows what it finds; otherwise finished runs stay folded until asked for
    const unfold = view.showFinished || view.text !== '' || FINISHED.includes(view.state);
    const shownFinished = unfold ? finished.slice(0, view.finishedRows) : [];
    const rows = active.map(rowOf);
    if (finished.length) rows.push(groupRow(finished.length, unfold));
    rows.push(...shownFinished.map(rowOf));
    if (shownFinished.length < finished.length && unfold) rows.push(moreRow(finished.length - shownFinished.length));
    $('runs').tBodies[0].replaceChildren(...rows);
    const total = runs.size;
    $('no-runs').hidden = total > 0;
    $('runs').hidden = total === 0;
    $('run-tools').hidden = total === 0;
    $('runs-count').textContent = '(' + total + ')';
    $('no-match').hidden = total === 0 || visible.length > 0;
    state.rows = active.length + shownFinished.length;
  }

  function groupRow(n, unfolded) {
    const button = el('button', {
      type: 'button',
      id: 'toggle-finished',
      text: (unfolded ? '▾ ' : '▸ ') + n + ' finished run' + (n === 1 ? '' : 's'),
    });
    button.addEventListener('click', () => {
      view.showFinished = !view.showFinished;
      view.finishedRows = PAGE_ROWS;
      renderRuns();
    });
    return el('tr', { className: 'group' }, [el('td', { colspan: COLUMNS }, [button])]);
  }

  function moreRow(left) {
    const button = el('button', {
      type: 'button',
      id: 'more-finished',
      text: 'show ' + Math.min(left, PAGE_ROWS) + ' more',
    });
    button.addEventListener('click', () => {
      view.finishedRows += PAGE_ROWS;
      renderRuns();
    });
    return el('tr', { className: 'group' }, [el('td', { colspan: COLUMNS }, [button, ' of ' + left + ' not shown'])]);
  }

  function rowOf(r) {
    const key = JSON.stringify(r) + (isOpen(r) ? '+' : '-');
    const cached = rowCache.get(r.id);
    if (cached && cached.key === key) return cached.tr;
    const tr = runRow(r);
    rowCache.set(r.id, { key, tr });
    return tr;
  }

  function runRow(r) {
    const running = r.state === 'running';
    const fraction = r.totalSteps > 0 ? Math.min(1, r.step / r.totalSteps) : 0;
    const bar = el('span', { className: 'bar' }, [el('span', { style: { width: (fraction * 100).toFixed(1) + '%' } })]);
    const progress = el('span', {
      className: 'progress-text',
      text: r.step + '/' + r.totalSteps + ' · ' + epochText(r),
    });
    const name = el('td', { className: 'name' }, [
      document.createTextNode(r.name),
      el('span', { className: 'id', text: r.id }),
      r.error ? el('span', { className: 'error', text: 'step ' + r.error.step + ': ' + r.error.reason }) : null,
    ]);
    // accuracy of a classification, loss of a regression; the loss in the title
    const evalCell = (e, split) =>
      el('td', {
        className: 'num ' + split,
        text: e ? (classifies(r, e) ? pct(e.accuracy) : num(e.loss, 4)) : '–',
        title: e ? split + ' loss ' + num(e.loss, 4) + ' at step ' + e.step : null,
      });
    const tr = el(
      'tr',
      { dataset: { runId: r.id, open: isOpen(r) ? '' : undefined }, title: 'show or hide its curves' },
      [
        name,
        el('td', {}, [el('span', { className: 'state', text: r.state, dataset: { state: r.state } })]),
        el('td', {}, [bar, progress]),
        el('td', { className: 'num', text: num(r.loss, 4) }),
        el('td', { className: 'num', text: classifies(r) ? pct(r.accuracy) : '–' }),
        evalCell(r.validation, 'validation'),
        evalCell(r.test, 'test'),
        el('td', { className: 'num', text: running ? rate(r.samplesPerSecond) : '–' }),
        el('td', { className: 'num', text: running ? duration(r.etaSeconds) : '–' }),
        el('td', { text: clock(r.startedAt || r.createdAt) }),
      ],
    );
    tr.addEventListener('click', () => toggle(r.id));
    return tr;
  }

  // ---- which cards are open ----

  function autoOpen() {
    return new Set(order.filter((id) => runs.get(id).state === 'running').slice(0, AUTO_OPEN));
  }

  let auto = new Set();

  function isOpen(r) {
    return opened.has(r.id) || (auto.has(r.id) && !closed.has(r.id));
  }

  function toggle(id) {
    const r = runs.get(id);
    if (!r) return;
    if (isOpen(r)) {
      opened.delete(id);
      closed.add(id);
    } else {
      closed.delete(id);
      opened.add(id);
    }
    renderRuns();
    renderCards();
  }

  function renderCards() {
    cards.show(
      order.filter((id) => isOpen(runs.get(id))),
      runs,
    );
  }

  // ---- workers and queue ----

  function renderWorkers() {
    const rows = workers.map((w) =>
      el('tr', { dataset: { workerId: w.id } }, [
        el('td', { text: w.id }),
        el('td', { text: w.host }),
        el('td', { className: 'num', text: w.pid }),
        el('td', { className: 'num', text: w.concurrency }),
        el('td', { text: w.engine }),
        el('td', { text: w.version }),
        el('td', { className: 'num', text: ago(w.lastSeen) }),
      ]),
    );
    $('workers').tBodies[0].replaceChildren(...rows);
    $('workers').hidden = rows.length === 0;
    $('no-workers').hidden = rows.length > 0;
    $('workers-count').textContent = '(' + rows.length + ')';
  }

  function renderQueue(counts) {
    const tiles = QUEUE_STATES.map((s) => {
      const n = counts[s] || 0;
      return el('div', { className: 'tile', dataset: { state: s, nonzero: n > 0 ? '' : undefined } }, [
        el('div', { className: 'value', text: n.toLocaleString('en-US') }),
        el('div', { className: 'label', text: s }),
      ]);
    });
    $('queue').replaceChildren(...tiles);
  }

  // ---- the event stream ----

  function applyRuns(changed, removed) {
    for (const r of changed) runs.set(r.id, r);
    for (const id of removed) {
      runs.delete(id);
      rowCache.delete(id);
      opened.delete(id);
      closed.delete(id);
    }
    order = [...runs.values()]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .map((r) => r.id);
    auto = autoOpen();
    state.runs = {};
    for (const id of order) {
      const r = runs.get(id);
      state.runs[id] = { name: r.name, state: r.state, step: r.step, points: cards.points(id) };
    }
    renderRuns();
    renderCards();
  }

  cards.onPoints((id, c) => {
    if (state.runs[id]) state.runs[id].points = c.x.length;
  });

  function on(source, type, handle) {
    source.addEventListener(type, (ev) => {
      state.events++;
      handle(JSON.parse(ev.data));
    });
  }

  function connect() {
    const source = new EventSource('/events');
    const status = $('connection');
    source.onopen = () => {
      state.connected = true;
      status.dataset.state = 'live';
      status.textContent = 'live';
    };
    source.onerror = () => {
      state.connected = false;
      status.dataset.state = 'lost';
      status.textContent = 'reconnecting…';
    };
    on(source, 'snapshot', (snap) => {
      // a (re)connect starts from the server's picture
      cards.clear();
      runs.clear();
      rowCache.clear();
      for (const h of snap.histories) cards.addHistory(h);
      applyRuns(snap.runs, []);
      // time to first render: from navigation to the first table drawn from a snapshot
      if (state.firstRenderMs === null) state.firstRenderMs = Math.round(performance.now());
      workers = snap.workers;
      state.workers = workers.length;
      renderWorkers();
      state.queue = snap.queue;
      renderQueue(snap.queue);
    });
    on(source, 'runs', (d) => applyRuns(d.changed, d.removed));
    on(source, 'history', (h) => cards.addHistory(h));
    on(source, 'workers', (w) => {
      workers = w;
      state.workers = w.length;
      renderWorkers();
    });
    on(source, 'queue', (q) => {
      state.queue = q;
      renderQueue(q);
    });
  }

  $('run-filter').addEventListener('input', (ev) => {
    view.text = ev.target.value.trim();
    view.finishedRows = PAGE_ROWS;
    renderRuns();
  });
  $('run-state').addEventListener('change', (ev) => {
    view.state = ev.target.value;
    view.finishedRows = PAGE_ROWS;
    renderRuns();
  });

  renderRuns();
  renderWorkers();
  renderQueue({});
  $('curves-section').hidden = true;
  window.addEventListener('resize', cards.resize);
  window.setInterval(renderWorkers, 1000);
  connect();
})();
