/* global window, uPlot */
// A run's card: its model summary, metrics and charts (loss, accuracy, a 1-D regression's fit),
// opened on demand. Charts are drawn with uPlot; the list of charts is CHARTS (add one there).
'use strict';

(function () {
  const { el, $, num, pct, epochText, classifies } = window.nnqUi;
  const CHART_HEIGHT = 200;
  const REDRAW_MS = 200;

  /** Per run: chart data and, while open, its card and charts. */
  const curves = new Map();
  let redrawTimer = 0;
  /** A card's charts were drawn: hook for the page state the end-to-end test reads. */
  let onPoints = () => undefined;

  function emptyCurve() {
    // aligned uPlot data: x = step; train loss, validation loss; train accuracy, validation accuracy
    return {
      x: [],
      loss: [],
      vloss: [],
      acc: [],
      vacc: [],
      evals: 0,
      index: new Map(),
      pending: [],
      fit: null,
      /** evaluation.curvature: steps, top Hessian eigenvalue and trace estimate at each evaluation. */
      hx: [],
      htop: [],
      htrace: [],
      /** Any accuracy above 0 seen: a classification run (a regression's accuracy is always 0). */
      classifies: false,
      fetched: false,
      dirty: true,
    };
  }

  function curveOf(id) {
    let c = curves.get(id);
    if (!c) curves.set(id, (c = emptyCurve()));
    return c;
  }

  /** A history chunk of the feed (or of GET /runs/:id/history): steps, evaluations, the newest fit curve. */
  function addHistory(chunk) {
    const c = curveOf(chunk.id);
    // in place: the charts' options hold on to this object
    if (chunk.reset) Object.assign(c, emptyCurve(), { fetched: c.fetched });
    for (const [step, loss, accuracy] of chunk.steps) {
      c.index.set(step, c.x.length);
      c.x.push(step);
      c.loss.push(loss > 0 ? loss : null); // log scale: no zeros
      c.acc.push(accuracy);
      if (accuracy > 0) c.classifies = true;
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
    for (const e of chunk.evals) {
      if (typeof e.hessianTopEigenvalue !== 'number' || e.step <= (c.hx[c.hx.length - 1] ?? -1)) continue;
      c.hx.push(e.step);
      c.htop.push(e.hessianTopEigenvalue);
      c.htrace.push(typeof e.hessianTrace === 'number' ? e.hessianTrace : null);
    }
    if (chunk.curve) c.fit = chunk.curve;
    c.dirty = true;
    scheduleRedraw();
  }

  /** GET /runs/:id/history as a feed chunk: for a run the feed does not stream (an older one). */
  async function fetchHistory(id) {
    const c = curveOf(id);
    if (c.fetched || c.x.length) return;
    c.fetched = true;
    const res = await fetch('/runs/' + encodeURIComponent(id) + '/history');
    if (!res.ok) return;
    const chunk = { id, reset: true, steps: [], evals: [], curve: null };
    for (const e of await res.json()) {
      if (e.type === 'step') {
        if (!e.skipped) chunk.steps.push([e.step, e.loss, e.accuracy]);
      } else {
        chunk.evals.push(e);
        if (e.curve) chunk.curve = { step: e.step, ...e.curve };
      }
    }
    if (!c.x.length) addHistory(chunk);
  }

  // ---- charts ----

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

  /** The train and validation series of a step chart. */
  function stepSeries(c, format) {
    return [
      { label: 'step' },
      { label: 'train', stroke: '#2f6fdf', width: 1.25, points: { show: false }, value: (u, v) => format(v) },
      {
        // evaluations are sparse in the step axis: a line across the gaps, dots while they are few
        label: 'validation',
        stroke: '#d64545',
        width: 2,
        spanGaps: true,
        points: { show: () => c.evals < 60, size: 6, fill: '#d64545' },
        value: (u, v) => format(v),
      },
    ];
  }

  /**
   * The charts of a card, in order: `has` says when there is something to draw, `data` gives uPlot's
   * aligned arrays, `options` the rest of its options. Another chart is one more entry.
   */
  const CHARTS = [
    {
      key: 'loss',
      has: (c) => c.x.length > 0,
      data: (c) => [c.x, c.loss, c.vloss],
      options: (c) => ({
        title: 'loss (log scale)',
        scales: { x: { time: false }, y: { distr: 3 } },
        axes: [
          { label: 'step', labelSize: 18, size: 36 },
          {
            size: 56,
            values: (u, splits) => splits.map(tick),
            grid: { filter: decadeLines },
            ticks: { filter: decadeLines },
          },
        ],
        series: stepSeries(c, (v) => num(v, 4)),
      }),
    },
    {
      key: 'accuracy',
      has: (c) => c.x.length > 0 && c.classifies,
      data: (c) => [c.x, c.acc, c.vacc],
      options: (c) => ({
        title: 'accuracy',
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [
          { label: 'step', labelSize: 18, size: 36 },
          { size: 56, values: (u, splits) => splits.map((v) => (v === null ? '' : Math.round(v * 100) + '%')) },
        ],
        series: stepSeries(c, pct),
      }),
    },
    {
      // a 1-D regression: the prediction on the run's fixed grid at the newest evaluation
      key: 'fit',
      has: (c) => !!c.fit,
      data: (c) => [c.fit.x, c.fit.target, c.fit.prediction],
      options: () => ({
        title: 'prediction against target',
        scales: { x: { time: false } },
        axes: [{ label: 'x', labelSize: 18, size: 36 }, { size: 56 }],
        series: [
          { label: 'x' },
          { label: 'target', stroke: '#8a94a6', width: 0, points: { show: true, size: 4, fill: '#8a94a6' } },
          { label: 'prediction', stroke: '#2f6fdf', width: 2, points: { show: false } },
        ],
      }),
      caption: (c) => 'at step ' + c.fit.step,
    },
    {
      // evaluation.curvature: the Hessian of the training loss on the run's fixed batch
      key: 'curvature',
      has: (c) => c.hx.length > 0,
      data: (c) => [c.hx, c.htop, c.htrace],
      options: () => ({
        title: 'Hessian: top eigenvalue and trace',
        scales: { x: { time: false }, y: {}, trace: {} },
        axes: [
          { label: 'step', labelSize: 18, size: 36 },
          { size: 56, stroke: '#7a3fbf' },
          { scale: 'trace', side: 1, size: 56, stroke: '#1f8a70', grid: { show: false } },
        ],
        series: [
          { label: 'step' },
          { label: 'top eigenvalue', stroke: '#7a3fbf', width: 2, value: (u, v) => num(v, 4) },
          { label: 'trace', scale: 'trace', stroke: '#1f8a70', width: 2, value: (u, v) => num(v, 4) },
        ],
      }),
    },
  ];

  function chartWidth(host) {
    return Math.max(240, Math.floor(host.clientWidth || 300));
  }

  function makeChart(def, host, c) {
    const opts = Object.assign(
      {
        width: chartWidth(host),
        height: CHART_HEIGHT,
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      def.options(c),
    );
    return new uPlot(opts, def.data(c), host);
  }

  // ---- cards ----

  function summaryTable(model) {
    if (!Array.isArray(model) || !model.length) return null;
    const total = model.reduce((s, l) => s + (l.params || 0), 0);
    const rows = model.map((l) =>
      el('tr', {}, [
        el('td', { text: l.index === 0 ? 'input' : String(l.index) }),
        el('td', { text: l.kind }),
        el('td', { text: '[' + (l.outputShape || []).join(', ') + ']' }),
        el('td', { className: 'num', text: (l.params || 0).toLocaleString('en-US') }),
      ]),
    );
    return el('table', { className: 'summary' }, [
      el('thead', {}, [
        el('tr', {}, [
          el('th', { text: 'layer' }),
          el('th', { text: 'kind' }),
          el('th', { text: 'output shape' }),
          el('th', { className: 'num', text: 'parameters' }),
        ]),
      ]),
      el('tbody', {}, rows),
      el('tfoot', {}, [
        el('tr', {}, [
          el('td', { text: 'total', colspan: 3 }),
          el('td', { className: 'num', text: total.toLocaleString('en-US') }),
        ]),
      ]),
    ]);
  }

  function runCard(id) {
    const hosts = {};
    const captions = {};
    const boxes = CHARTS.map((def) => {
      hosts[def.key] = el('div', { className: 'chart chart-' + def.key, dataset: { points: '0' } });
      captions[def.key] = el('div', { className: 'caption' });
      return el('div', { className: 'chart-box', hidden: '' }, [hosts[def.key], captions[def.key]]);
    });
    const title = el('span', { className: 'title' });
    const badge = el('span', { className: 'state' });
    const meta = el('span', { className: 'meta' });
    const metrics = el('p', { className: 'metrics' });
    const summary = el('div', { className: 'model-summary' });
    const waiting = el('p', { className: 'empty', text: 'waiting for the first step…' });
    const card = el('div', { className: 'run-card', dataset: { runId: id, points: '0' } }, [
      el('h3', {}, [title, badge, meta]),
      metrics,
      summary,
      waiting,
      el('div', { className: 'charts' }, boxes),
    ]);
    return { card, title, badge, meta, metrics, summary, waiting, hosts, captions, boxes, charts: {}, model: null };
  }

  /** An evaluation: accuracy and loss of a classification, the loss of a regression. */
  function evalText(split, e, r) {
    const loss = 'loss ' + num(e.loss, 4);
    return split + ' ' + (classifies(r, e) ? pct(e.accuracy) + ' (' + loss + ')' : loss);
  }

  function metricsText(r) {
    const parts = [epochText(r), 'step ' + r.step + '/' + r.totalSteps];
    if (r.validation) parts.push(evalText('validation', r.validation, r));
    if (r.test) parts.push(evalText('test', r.test, r));
    if (typeof r.paramCount === 'number') parts.push(r.paramCount.toLocaleString('en-US') + ' parameters');
    return parts.join(' · ');
  }

  function closeCard(c) {
    for (const chart of Object.values(c.card.charts)) chart.destroy();
    c.card.card.remove();
    c.card = undefined;
  }

  /** Show the cards of `ids` (in this order) in #curves; close the others. */
  function show(ids, runs) {
    const root = $('curves');
    for (const [id, c] of curves) {
      if (c.card && !ids.includes(id)) closeCard(c);
      if (!runs.has(id)) curves.delete(id);
    }
    const cards = ids.map((id) => {
      const r = runs.get(id);
      const c = curveOf(id);
      if (!c.card) {
        c.card = runCard(id);
        c.dirty = true;
        void fetchHistory(id).catch(() => undefined);
      }
      c.card.title.textContent = r.name;
      c.card.badge.textContent = r.state;
      c.card.badge.dataset.state = r.state;
      c.card.meta.textContent = r.id;
      c.card.metrics.textContent = metricsText(r);
      if (r.model && c.card.model !== r.model) {
        c.card.model = r.model;
        c.card.summary.replaceChildren(summaryTable(r.model) || '');
      }
      return c.card.card;
    });
    // keep the order without detaching cards that are already in place (uPlot keeps its canvas)
    cards.forEach((card, i) => {
      if (root.children[i] !== card) root.insertBefore(card, root.children[i] || null);
    });
    $('curves-section').hidden = cards.length === 0;
    scheduleRedraw();
  }

  function scheduleRedraw() {
    if (!redrawTimer) redrawTimer = window.setTimeout(redraw, REDRAW_MS);
  }

  function redraw() {
    redrawTimer = 0;
    if (typeof uPlot === 'undefined') return scheduleRedraw();
    for (const [id, c] of curves) {
      if (!c.card || !c.dirty) continue;
      c.dirty = false;
      c.card.waiting.hidden = c.x.length > 0;
      CHARTS.forEach((def, i) => {
        if (!def.has(c)) return;
        c.card.boxes[i].hidden = false;
        const chart = c.card.charts[def.key];
        if (!chart) c.card.charts[def.key] = makeChart(def, c.card.hosts[def.key], c);
        else chart.setData(def.data(c));
        c.card.hosts[def.key].dataset.points = String(def.data(c)[0].length);
        c.card.captions[def.key].textContent = def.caption ? def.caption(c) : '';
      });
      c.card.card.dataset.points = String(c.x.length);
      if (c.fit) c.card.card.dataset.fitStep = String(c.fit.step);
      onPoints(id, c);
    }
  }

  function resize() {
    for (const c of curves.values()) {
      if (!c.card) continue;
      for (const [key, chart] of Object.entries(c.card.charts)) {
        chart.setSize({ width: chartWidth(c.card.hosts[key]), height: CHART_HEIGHT });
      }
    }
  }

  /** Forget every run (a snapshot starts over). */
  function clear() {
    for (const c of curves.values()) if (c.card) closeCard(c);
    curves.clear();
    $('curves').replaceChildren();
  }

  window.nnqCards = {
    CHARTS,
    addHistory,
    show,
    resize,
    clear,
    points: (id) => curves.get(id)?.x.length ?? 0,
    onPoints: (fn) => (onPoints = fn),
  };
})();
