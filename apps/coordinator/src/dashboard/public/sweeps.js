/* global document, window */
// The dashboard's sweeps panel: a leaderboard and a parallel-coordinates view (parameters against the
// objective) per sweep, polled from GET /sweeps and GET /sweeps/:id. Every string that comes from
// data goes into the page through textContent or an SVG attribute, never as markup.
'use strict';

(function () {
  const POLL_MS = 2000;
  /** Sweeps shown: the newest ones. */
  const MAX_SWEEPS = 4;
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 720;
  const H = 220;
  const PAD = { top: 24, bottom: 28, left: 48, right: 64 };

  const state = { polls: 0, sweeps: {} };
  window.nnqSweeps = state;

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'className') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function fmt(v) {
    if (typeof v === 'number') return Number.isFinite(v) ? String(Number(v.toPrecision(3))) : '–';
    return typeof v === 'string' ? v : JSON.stringify(v);
  }

  // ---- axes: a parameter's values (log, linear or categorical) mapped to [0, 1] ----

  function axisOf(path, spec, trials) {
    const values = trials.map((t) => t.params[path]);
    if (spec && (spec.type === 'choice' || spec.type === 'grid')) {
      const keys = spec.values.map((v) => JSON.stringify(v));
      const pos = (v) => (keys.length > 1 ? Math.max(0, keys.indexOf(JSON.stringify(v))) / (keys.length - 1) : 0.5);
      return { label: path, pos, ticks: spec.values.map((v) => [pos(v), fmt(v)]) };
    }
    const nums = values.filter((v) => typeof v === 'number');
    const lo = spec && typeof spec.min === 'number' ? spec.min : Math.min(...nums);
    const hi = spec && typeof spec.max === 'number' ? spec.max : Math.max(...nums);
    const log = !!spec && (spec.type === 'loguniform' || (spec.type === 'int' && spec.log)) && lo > 0;
    const f = (x) => (log ? Math.log(x) : x);
    const pos = (v) => (f(hi) > f(lo) ? Math.min(1, Math.max(0, (f(v) - f(lo)) / (f(hi) - f(lo)))) : 0.5);
    return {
      label: path,
      pos,
      ticks: [
        [0, fmt(lo)],
        [1, fmt(hi)],
      ],
    };
  }

  /** Parallel coordinates: an axis per parameter and one for the objective, a line per scored trial. */
  function parallel(sweep) {
    const space = (sweep.config && sweep.config.space) || {};
    const paths = Object.keys(space);
    const scored = sweep.trials.filter((t) => typeof t.best === 'number');
    if (!scored.length) return null;
    const metric = sweep.objective.split + ' ' + sweep.objective.metric;
    const bests = scored.map((t) => t.best);
    const objSpec = { type: 'uniform', min: Math.min(...bests), max: Math.max(...bests) };
    const axes = paths.map((p) => axisOf(p, space[p], sweep.trials));
    axes.push(Object.assign(axisOf('best', objSpec, []), { label: sweep.objective.metric, objective: true }));
    const x = (i) => PAD.left + (i * (W - PAD.left - PAD.right)) / Math.max(1, axes.length - 1);
    const y = (p) => H - PAD.bottom - p * (H - PAD.top - PAD.bottom);
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'parallel', role: 'img' });
    root.append(svg('title', { text: 'parameters against ' + metric }));
    axes.forEach((a, i) => {
      const g = svg('g', { class: a.objective ? 'axis objective' : 'axis' });
      g.append(svg('line', { x1: x(i), x2: x(i), y1: y(0), y2: y(1) }));
      g.append(svg('text', { x: x(i), y: PAD.top - 10, 'text-anchor': 'middle', text: a.label }));
      for (const [p, label] of a.ticks) g.append(svg('text', { x: x(i) + 6, y: y(p) + 4, class: 'tick', text: label }));
      root.append(g);
    });
    const rank = (t) => (objSpec.max > objSpec.min ? axes[axes.length - 1].pos(t.best) : 1);
    const better = sweep.objective.mode === 'max' ? (t) => rank(t) : (t) => 1 - rank(t);
    for (const t of scored) {
      const pts = paths.map((p, i) => x(i) + ',' + y(axes[i].pos(t.params[p])));
      pts.push(x(axes.length - 1) + ',' + y(rank(t)));
      // colour: from grey (worst) to the accent (best); stopped trials dashed
      const line = svg('polyline', {
        points: pts.join(' '),
        class: 'trial',
        'data-state': t.state,
        style: 'stroke: hsl(218, ' + Math.round(20 + 55 * better(t)) + '%, ' + Math.round(70 - 25 * better(t)) + '%)',
      });
      line.append(svg('title', { text: 't' + t.index + ' ' + t.state + ': ' + fmt(t.best) }));
      root.append(line);
    }
    return root;
  }

  function leaderboard(sweep) {
    const paths = Object.keys((sweep.config && sweep.config.space) || {});
    const head = el('tr', {}, [
      el('th', { text: '#' }),
      el('th', { text: 'trial' }),
      el('th', { text: 'state' }),
      ...paths.map((p) => el('th', { text: p })),
      el('th', { className: 'num', text: sweep.objective.split + ' ' + sweep.objective.metric }),
      el('th', { className: 'num', text: 'steps' }),
    ]);
    const rows = sweep.leaderboard.map((t, i) =>
      el('tr', { dataset: { trial: String(t.index) } }, [
        el('td', { text: i + 1 }),
        el('td', { className: 'name' }, [
          document.createTextNode('t' + t.index),
          t.runId ? el('span', { className: 'id', text: t.runId }) : null,
          t.stopReason || t.error ? el('span', { className: 'hint', text: t.stopReason || t.error }) : null,
        ]),
        el('td', {}, [el('span', { className: 'state', text: t.state, dataset: { state: t.state } })]),
        ...paths.map((p) => el('td', { className: 'num', text: fmt(t.params[p]) })),
        el('td', { className: 'num', text: typeof t.best === 'number' ? t.best.toFixed(4) : '–' }),
        el('td', { className: 'num', text: t.step + '/' + (t.totalSteps || '?') }),
      ]),
    );
    return el('table', { className: 'leaderboard' }, [el('thead', {}, [head]), el('tbody', {}, rows)]);
  }

  function card(sweep) {
    const best = sweep.best ? 'best t' + sweep.best.index + ': ' + fmt(sweep.best.value) : 'no result yet';
    return el('div', { className: 'sweep', dataset: { sweepId: sweep.id } }, [
      el('h3', {}, [
        document.createTextNode(sweep.name + ' '),
        el('span', { className: 'state', text: sweep.state, dataset: { state: sweep.state } }),
        el('span', { className: 'id', text: sweep.id }),
      ]),
      el('p', {
        className: 'hint',
        text: sweep.trials.length + '/' + sweep.planned + ' trials · ' + best,
      }),
      leaderboard(sweep),
      parallel(sweep),
      el('p', { className: 'hint' }, [
        el('a', { href: '/sweeps/' + encodeURIComponent(sweep.id) + '/results.csv', text: 'CSV' }),
        document.createTextNode(' · '),
        el('a', { href: '/sweeps/' + encodeURIComponent(sweep.id) + '/results.json', text: 'JSON' }),
        document.createTextNode(' · '),
        el('a', { href: '/sweeps/' + encodeURIComponent(sweep.id) + '/model', text: 'best model' }),
      ]),
    ]);
  }

  async function getJson(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }

  async function poll() {
    try {
      const list = (await getJson('/sweeps')).slice(0, MAX_SWEEPS);
      const sweeps = await Promise.all(list.map((s) => getJson('/sweeps/' + encodeURIComponent(s.id))));
      state.polls++;
      state.sweeps = Object.fromEntries(sweeps.map((s) => [s.id, { state: s.state, trials: s.trials.length }]));
      // no sweeps: the section stays empty, with its hint
      document.getElementById('sweeps').replaceChildren(...sweeps.map(card));
      document.getElementById('no-sweeps').hidden = sweeps.length > 0;
    } catch {
      // the runs' connection indicator reports an unreachable coordinator; try again next time
    }
    window.setTimeout(poll, POLL_MS);
  }

  poll();
})();
