/* global document, window, EventSource, uPlot */
// The coordinator's live dashboard: fed by GET /events (server-sent events), drawn with uPlot.
// Every string that comes from data goes into the page through textContent, never as markup.
'use strict';

(function () {
  /** Runs that get charts: the newest ones. */
  const MAX_CHARTS = 8;
  const CHART_HEIGHT = 200;
  const REDRAW_MS = 200;
  const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'];

  /** What the page shows, for people poking in the console and for the end-to-end test. */
  const state = { connected: false, events: 0, runs: {}, workers: 0, queue: {} };
  window.nnqDashboard = state;

  /** Run records by id, and their ids newest first. */
  const runs = new Map();
  let order = [];
  /** Per run: chart data and, once shown, its card and charts. */
  const curves = new Map();
  let workers = [];
  let redrawTimer = 0;

  // ---- DOM helpers: elements with text, never HTML ----

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null) continue;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'className') node.className = value;
        else if (key === 'dataset') {
          for (const [k, v] of Object.entries(value)) if (v !== undefined) node.dataset[k] = v;
        } else if (key === 'style') Object.assign(node.style, value);
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  const $ = (id) => document.getElementById(id);

  // ---- formatting ----

  function num(x, digits) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
    if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(digits - 1);
    return x.toPrecision(digits);
  }

  function pct(x) {
    return typeof x === 'number' && Number.isFinite(x) ? (x * 100).toFixed(1) + '%' : '–';
  }

  function rate(x) {
    return typeof x === 'number' && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
  }

  function duration(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
    const s = Math.round(seconds);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + ' min';
  }

  function clock(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString('en-GB') : d.toLocaleString('en-GB');
  }

  function ago(iso) {
    const s = (Date.now() - Date.parse(iso)) / 1000;
    return Number.isFinite(s) ? Math.max(0, Math.round(s)) + ' s ago' : '–';
  }

  // ---- runs table ----

  function renderRuns() {
    const body = $('runs').tBodies[0];
    const rows = order.map((id) => runRow(runs.get(id)));
    body.replaceChildren(...rows);
    $('no-runs').hidden = rows.length > 0;
    $('runs').hidden = rows.length === 0;
  }

  function runRow(r) {
    const running = r.state === 'running';
    const fraction = r.totalSteps > 0 ? Math.min(1, r.step / r.totalSteps) : 0;
    const bar = el('span', { className: 'bar' }, [el('span', { style: { width: (fraction * 100).toFixed(1) + '%' } })]);
    const progress = el('span', {
      className: 'progress-text',
      text: r.step + '/' + r.totalSteps + ' · epoch ' + r.epoch + '/' + r.epochs,
    });
    const name = el('td', { className: 'name' }, [
      document.createTextNode(r.name),
      el('span', { className: 'id', text: r.id }),
      r.error ? el('span', { className: 'error', text: 'step ' + r.error.step + ': ' + r.error.reason }) : null,
    ]);
    return el('tr', { dataset: { runId: r.id } }, [
      name,
      el('td', {}, [el('span', { className: 'state', text: r.state, dataset: { state: r.state } })]),
      el('td', {}, [bar, progress]),
      el('td', { className: 'num', text: num(r.loss, 4) }),
      el('td', { className: 'num', text: pct(r.accuracy) }),
      el('td', {
        className: 'num',
        text: r.validation ? pct(r.validation.accuracy) : '–',
        title: r.validation ? 'validation loss ' + num(r.validation.loss, 4) + ' at step ' + r.validation.step : null,
      }),
      el('td', { className: 'num', text: running ? rate(r.samplesPerSecond) : '–' }),
      el('td', { className: 'num', text: running ? duration(r.etaSeconds) : '–' }),
      el('td', { text: clock(r.startedAt || r.createdAt) }),
    ]);
  }

  // ---- curves ----

  function emptyCurve() {
    // aligned uPlot data: x = step; train loss, validation loss; train accuracy, validation accuracy
    return { x: [], loss: [], vloss: [], acc: [], vacc: [], evals: 0, index: new Map(), pending: [], dirty: true };
  }

  function curveOf(id) {
    let c = curves.get(id);
    if (!c) curves.set(id, (c = emptyCurve()));
    return c;
  }

  function addHistory(chunk) {
    const c = curveOf(chunk.id);
    // in place: the charts' options hold on to this object
    if (chunk.reset) Object.assign(c, emptyCurve());
    for (const [step, loss, accuracy] of chunk.steps) {
      c.index.set(step, c.x.length);
      c.x.push(step);
      c.loss.push(loss > 0 ? loss : null); // log scale: no zeros
      c.acc.push(accuracy);
      c.vloss.push(null);
      c.vacc.push(null);
    }
    // evaluations sit on the step they were taken after; one that comes first waits for its step
    const evals = c.pending.concat(chunk.evals.filter((e) => e.split === 'validation'));
    c.pending = [];
    for (const e of evals) {
      const i = c.index.get(e.step);
      if (i === undefined) {
        c.pending.push(e);
        continue;
      }
      if (c.vacc[i] === null) c.evals++;
      c.vloss[i] = e.loss > 0 ? e.loss : null;
      c.vacc[i] = e.accuracy;
    }
    c.dirty = true;
    scheduleRedraw();
  }

  function scheduleRedraw() {
    if (!redrawTimer) redrawTimer = window.setTimeout(redraw, REDRAW_MS);
  }

  function chartWidth(host) {
    return Math.max(240, Math.floor(host.clientWidth || 300));
  }

  function isDecade(v) {
    return v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
  }

  /** Log-scale grid over many decades: a line per decade (at most ~6), not nine per decade. */
  function decadeLines(u, splits) {
    const decades = splits.filter(isDecade);
    if (decades.length < 3) return splits;
    const every = Math.ceil(decades.length / 6);
    return splits.map((v) => (isDecade(v) && Math.round(Math.log10(v)) % every === 0 ? v : null));
  }

  function tick(v) {
    if (v === null) return '';
    return v >= 1e-3 && v < 1e5 ? String(Number(v.toPrecision(2))) : v.toExponential(0);
  }

  function makeChart(host, kind, c) {
    const isLoss = kind === 'loss';
    const opts = {
      title: isLoss ? 'loss (log scale)' : 'accuracy',
      width: chartWidth(host),
      height: CHART_HEIGHT,
      scales: {
        x: { time: false },
        y: isLoss ? { distr: 3 } : { range: [0, 1] },
      },
      axes: [
        { label: 'step', labelSize: 18, size: 36 },
        isLoss
          ? {
              size: 56,
              values: (u, splits) => splits.map(tick),
              grid: { filter: decadeLines },
              ticks: { filter: decadeLines },
            }
          : { size: 56, values: (u, splits) => splits.map((v) => (v === null ? '' : Math.round(v * 100) + '%')) },
      ],
      series: [
        { label: 'step' },
        {
          label: 'train',
          stroke: '#2f6fdf',
          width: 1.25,
          points: { show: false },
          value: (u, v) => (isLoss ? num(v, 4) : pct(v)),
        },
        {
          // evaluations are sparse in the step axis: a line across the gaps, dots while they are few
          label: 'validation',
          stroke: '#d64545',
          width: 2,
          spanGaps: true,
          points: { show: () => c.evals < 60, size: 6, fill: '#d64545' },
          value: (u, v) => (isLoss ? num(v, 4) : pct(v)),
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    return new uPlot(opts, chartData(kind, c), host);
  }

  function chartData(kind, c) {
    return kind === 'loss' ? [c.x, c.loss, c.vloss] : [c.x, c.acc, c.vacc];
  }

  function runCard(id) {
    const lossHost = el('div', { className: 'chart chart-loss', dataset: { points: '0' } });
    const accHost = el('div', { className: 'chart chart-accuracy', dataset: { points: '0' } });
    const title = el('span', { className: 'title' });
    const badge = el('span', { className: 'state' });
    const meta = el('span', { className: 'meta' });
    const waiting = el('p', { className: 'empty', text: 'waiting for the first step…' });
    const card = el('div', { className: 'run-card', dataset: { runId: id, points: '0' } }, [
      el('h3', {}, [title, badge, meta]),
      waiting,
      el('div', { className: 'charts' }, [lossHost, accHost]),
    ]);
    return { card, title, badge, meta, waiting, lossHost, accHost };
  }

  function renderCurves() {
    const shown = order.slice(0, MAX_CHARTS);
    const root = $('curves');
    for (const [id, c] of curves) {
      if (!shown.includes(id) && c.card) {
        c.charts?.forEach((chart) => chart.destroy());
        c.card.card.remove();
        c.card = c.charts = undefined;
      }
      if (!runs.has(id)) curves.delete(id);
    }
    const cards = [];
    for (const id of shown) {
      const r = runs.get(id);
      const c = curveOf(id);
      if (!c.card) {
        c.card = runCard(id);
        c.dirty = true;
      }
      c.card.title.textContent = r.name;
      c.card.badge.textContent = r.state;
      c.card.badge.dataset.state = r.state;
      c.card.meta.textContent = 'step ' + r.step + '/' + r.totalSteps + ' · ' + r.id;
      cards.push(c.card.card);
    }
    // keep the order without detaching cards that are already in place (uPlot keeps its canvas)
    cards.forEach((card, i) => {
      if (root.children[i] !== card) root.insertBefore(card, root.children[i] || null);
    });
    $('curves-section').hidden = cards.length === 0;
    scheduleRedraw();
  }

  function redraw() {
    redrawTimer = 0;
    if (typeof uPlot === 'undefined') return scheduleRedraw();
    for (const [id, c] of curves) {
      if (!c.card || !c.dirty) continue;
      c.dirty = false;
      c.card.waiting.hidden = c.x.length > 0;
      if (!c.x.length) continue;
      if (!c.charts) {
        c.charts = [makeChart(c.card.lossHost, 'loss', c), makeChart(c.card.accHost, 'accuracy', c)];
      } else {
        c.charts[0].setData(chartData('loss', c));
        c.charts[1].setData(chartData('accuracy', c));
      }
      const points = String(c.x.length);
      c.card.card.dataset.points = c.card.lossHost.dataset.points = c.card.accHost.dataset.points = points;
      if (state.runs[id]) state.runs[id].points = c.x.length;
    }
  }

  function resizeCharts() {
    for (const c of curves.values()) {
      if (!c.charts) continue;
      c.charts[0].setSize({ width: chartWidth(c.card.lossHost), height: CHART_HEIGHT });
      c.charts[1].setSize({ width: chartWidth(c.card.accHost), height: CHART_HEIGHT });
    }
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
    for (const id of removed) runs.delete(id);
    order = [...runs.values()]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .map((r) => r.id);
    state.runs = {};
    for (const id of order) {
      const r = runs.get(id);
      state.runs[id] = { name: r.name, state: r.state, step: r.step, points: curves.get(id)?.x.length ?? 0 };
    }
    renderRuns();
    renderCurves();
  }

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
      for (const c of curves.values()) c.charts?.forEach((chart) => chart.destroy());
      curves.clear();
      runs.clear();
      $('curves').replaceChildren();
      for (const h of snap.histories) addHistory(h);
      applyRuns(snap.runs, []);
      workers = snap.workers;
      state.workers = workers.length;
      renderWorkers();
      state.queue = snap.queue;
      renderQueue(snap.queue);
    });
    on(source, 'runs', (d) => applyRuns(d.changed, d.removed));
    on(source, 'history', (h) => addHistory(h));
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

  renderRuns();
  renderWorkers();
  renderQueue({});
  $('curves-section').hidden = true;
  window.addEventListener('resize', resizeCharts);
  window.setInterval(renderWorkers, 1000);
  connect();
})();
