// The anytime curve as a PNG: mIoU against milliseconds for each exit (CA on and off) with
// the plain model as a single point, drawn as SVG and rasterised by sharp.

import sharp from 'sharp';

export interface Curve {
  readonly label: string;
  readonly color: string;
  readonly points: readonly { ms: number; miou: number; tag: string }[];
}

const W = 760;
const H = 460;
const M = { left: 64, right: 24, top: 40, bottom: 56 };

function niceMax(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / step) * step;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function anytimeSvg(title: string, curves: readonly Curve[], baseline: { ms: number; miou: number; label: string }): string {
  const all = [...curves.flatMap((c) => c.points), baseline];
  const xMax = niceMax(Math.max(...all.map((p) => p.ms)) * 1.1);
  const yMin = Math.max(0, Math.floor((Math.min(...all.map((p) => p.miou)) - 5) / 10) * 10);
  const yMax = Math.min(100, Math.ceil((Math.max(...all.map((p) => p.miou)) + 3) / 10) * 10);
  const x = (ms: number) => M.left + ((W - M.left - M.right) * ms) / xMax;
  const y = (miou: number) => H - M.bottom - ((H - M.top - M.bottom) * (miou - yMin)) / (yMax - yMin);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const ms = (xMax * i) / 5;
    parts.push(`<line x1="${x(ms)}" y1="${M.top}" x2="${x(ms)}" y2="${H - M.bottom}" stroke="#e4e4e4"/>`,
      `<text x="${x(ms)}" y="${H - M.bottom + 18}" text-anchor="middle">${Number(ms.toFixed(1))}</text>`);
  }
  for (let v = yMin; v <= yMax; v += 10) {
    parts.push(`<line x1="${M.left}" y1="${y(v)}" x2="${W - M.right}" y2="${y(v)}" stroke="#e4e4e4"/>`,
      `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<text x="${(W + M.left) / 2}" y="${H - 14}" text-anchor="middle">milliseconds from frame start to the exit (median)</text>`,
    `<text transform="translate(18 ${(H + M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">mIoU (label map, synthetic test split)</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`);
  curves.forEach((c, i) => {
    parts.push(`<polyline fill="none" stroke="${c.color}" stroke-width="2.5" points="${c.points.map((p) => `${x(p.ms)},${y(p.miou)}`).join(' ')}"/>`);
    for (const p of c.points) {
      parts.push(`<circle cx="${x(p.ms)}" cy="${y(p.miou)}" r="4.5" fill="${c.color}"/>`,
        `<text x="${x(p.ms) + 7}" y="${y(p.miou) + (i === 0 ? -8 : 16)}" fill="${c.color}">${escape(p.tag)}</text>`);
    }
    parts.push(`<line x1="${M.left + 16}" y1="${M.top + 18 + 20 * i}" x2="${M.left + 40}" y2="${M.top + 18 + 20 * i}" stroke="${c.color}" stroke-width="2.5"/>`,
      `<text x="${M.left + 48}" y="${M.top + 22 + 20 * i}">${escape(c.label)}</text>`);
  });
  const bi = curves.length;
  parts.push(`<rect x="${x(baseline.ms) - 6}" y="${y(baseline.miou) - 6}" width="12" height="12" fill="#222"/>`,
    `<rect x="${M.left + 22}" y="${M.top + 12 + 20 * bi}" width="12" height="12" fill="#222"/>`,
    `<text x="${M.left + 48}" y="${M.top + 22 + 20 * bi}">${escape(baseline.label)}</text>`, '</svg>');
  return parts.join('\n');
}

export async function writeChartPng(path: string, svg: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(path);
}
