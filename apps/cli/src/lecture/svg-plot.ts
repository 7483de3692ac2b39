/**
 * A line plot as an SVG document, written by hand (no plotting dependency): the target as a wide grey
 * line, each fit as a coloured line over it, a legend, the x and y ranges on the axes.
 */
export interface PlotSeries {
  label: string;
  y: ArrayLike<number>;
}

const WIDTH = 720;
const HEIGHT = 440;
const PAD = { left: 56, right: 150, top: 30, bottom: 40 };
/** The target: wide and grey, under the fits. */
const TARGET_COLOUR = '#999';
/** Colours of the fits, light to dark as the widths grow (cycled past the end). */
const COLOURS = ['#fdae61', '#f46d43', '#d73027', '#a50026', '#74add1', '#4575b4', '#313695', '#1a9850'];

/** The SVG text of `target` and `fits` over the shared x values. */
export function linePlot(title: string, x: ArrayLike<number>, target: PlotSeries, fits: PlotSeries[]): string {
  const all = [target, ...fits].flatMap((s) => Array.from(s.y)).filter(Number.isFinite);
  let [yMin, yMax] = [Math.min(...all), Math.max(...all)];
  if (yMin === yMax) [yMin, yMax] = [yMin - 1, yMax + 1];
  const xs = Array.from(x);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const px = (v: number) => (PAD.left + ((v - xMin) / (xMax - xMin || 1)) * w).toFixed(1);
  // clamped, so a wild fit stays inside the frame
  const py = (v: number) => {
    const c = Math.min(yMax, Math.max(yMin, Number.isFinite(v) ? v : yMin));
    return (PAD.top + (1 - (c - yMin) / (yMax - yMin)) * h).toFixed(1);
  };
  const line = (s: PlotSeries, colour: string, width: number) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="${width}" ` +
    `points="${xs.map((v, i) => `${px(v)},${py(s.y[i])}`).join(' ')}"><title>${escape(s.label)}</title></polyline>`;
  const legend = [target, ...fits].map((s, i) => {
    const ly = PAD.top + 14 + i * 18;
    const colour = i === 0 ? TARGET_COLOUR : COLOURS[(i - 1) % COLOURS.length];
    const lx = WIDTH - PAD.right + 16;
    return (
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${colour}" stroke-width="3"/>` +
      `<text x="${lx + 26}" y="${ly}">${escape(s.label)}</text>`
    );
  });
  const axis = `M${PAD.left},${PAD.top} V${HEIGHT - PAD.bottom} H${WIDTH - PAD.right}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}"` +
      ` font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="18" font-size="14">${escape(title)}</text>`,
    `<path d="${axis}" fill="none" stroke="#888"/>`,
    `<text x="${PAD.left}" y="${HEIGHT - 20}" text-anchor="middle">${xMin}</text>`,
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 20}" text-anchor="middle">${xMax}</text>`,
    `<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${round(yMax)}</text>`,
    `<text x="${PAD.left - 6}" y="${HEIGHT - PAD.bottom}" text-anchor="end">${round(yMin)}</text>`,
    line(target, TARGET_COLOUR, 4),
    ...fits.map((s, i) => line(s, COLOURS[i % COLOURS.length], 1.5)),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function round(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** Text as SVG (XML) character data. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
