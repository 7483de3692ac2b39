import { describe, expect, it } from 'vitest';
import { linePlot } from './svg-plot';

describe('linePlot', () => {
  it('draws the target and each fit as a polyline over the same x, escaping labels', () => {
    const svg = linePlot('a <plot>', [-1, 0, 1], { label: 'abs', y: [1, 0, 1] }, [{ label: '1 & 2', y: [0, 0, 0] }]);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('a &lt;plot&gt;');
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"><title>([^<]*)<\/title>/g)];
    expect(lines.map((m) => m[2])).toEqual(['abs', '1 &amp; 2']);
    // x from 56 to 570 px; y from 1 (top, 30 px) to 0 (bottom, 400 px)
    expect(lines[0][1]).toBe('56.0,30.0 313.0,400.0 570.0,30.0');
    expect(lines[1][1]).toBe('56.0,400.0 313.0,400.0 570.0,400.0');
  });

  it('keeps a non-finite or wild value inside the frame', () => {
    const svg = linePlot('t', [0, 1], { label: 't', y: [0, 1] }, [{ label: 'f', y: [NaN, 1e9] }]);
    expect(svg).toContain('points="56.0,400.0 570.0,30.0"><title>f</title>');
  });
});
