/* global document, window */
// Helpers shared by the dashboard's scripts: elements built with text (never HTML) and number formats.
'use strict';

(function () {
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

  /**
   * "epoch e/E" as a person counts: the epoch the last step belonged to, from 1 (record.epoch is
   * 0-based), so a completed 10-epoch run shows 10/10; 0 before the first step; a fractional
   * last epoch counts as one.
   */
  function epochText(r) {
    const total = Math.max(1, Math.ceil(r.epochs - 1e-9));
    const done = r.step > 0 ? Math.min(r.epoch + 1, total) : 0;
    return 'epoch ' + done + '/' + total;
  }

  const FINISHED = ['completed', 'failed', 'cancelled'];

  /** A classification run, as far as its figures tell: a regression's accuracy is always 0. */
  function classifies(r, e) {
    return (r.accuracy || 0) > 0 || (!!e && e.accuracy > 0);
  }

  window.nnqUi = {
    el,
    $: (id) => document.getElementById(id),
    num,
    pct,
    rate,
    duration,
    clock,
    ago,
    epochText,
    classifies,
    FINISHED,
  };
})();
