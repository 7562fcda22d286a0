// Small inline SVG line charts, drawn with DOM calls (no inline styles:
// the Content-Security-Policy forbids them; colors come from classes).

const NS = 'http://www.w3.org/2000/svg';
export const W = 300; // viewBox width: one unit per point at most
export const H = 80;
const TOP = 4;

// val is what a value is drawn as: the y axis runs from 0, and a value that
// is not a finite number (none the API sends) is drawn as 0 rather than
// making the whole polyline invalid.
const val = (v) => (Number.isFinite(v) && v > 0 ? v : 0);

// plot lays out series ({cls, values}) over a shared y axis from 0 to the
// largest value; the newest point is at the right edge, one point per
// slot of `slots`. It returns that largest value and, per series with
// points, the `points` attribute of its polyline ({cls, points}).
export function plot(series, slots) {
  let max = 0;
  for (const s of series) for (const v of s.values) max = Math.max(max, val(v));
  const top = max > 0 ? max : 1;
  const step = W / Math.max(slots - 1, 1);
  const lines = [];
  for (const s of series) {
    const n = s.values.length;
    if (n === 0) continue;
    const pts = s.values.map((v, i) => {
      const x = W - (n - 1 - i) * step;
      const y = H - 1 - (val(v) / top) * (H - 1 - TOP);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    if (n === 1) pts.unshift(`${(W - step).toFixed(1)},${pts[0].split(',')[1]}`);
    lines.push({ cls: s.cls, points: pts.join(' ') });
  }
  return { max, lines };
}

// draw replaces the content of svg with one polyline per series, as plot
// lays them out. The scale goes in label (HTML text: text in a stretched
// SVG would be stretched too).
export function draw(svg, label, series, slots, format) {
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const { max, lines } = plot(series, slots);
  const nodes = [];
  const base = document.createElementNS(NS, 'line');
  base.setAttribute('class', 'base');
  base.setAttribute('x1', '0'); base.setAttribute('x2', String(W));
  base.setAttribute('y1', String(H - 1)); base.setAttribute('y2', String(H - 1));
  nodes.push(base);
  for (const l of lines) {
    const line = document.createElementNS(NS, 'polyline');
    line.setAttribute('class', l.cls);
    line.setAttribute('points', l.points);
    nodes.push(line);
  }
  label.textContent = `max ${format(max)}`;
  svg.replaceChildren(...nodes);
}
