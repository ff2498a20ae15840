import type { EpochLog, StopReason } from "./state.js";

/** What `report.html` shows. */
export interface ReportInput {
  title: string;
  /** Resolved options, shown as a table. */
  config: Record<string, unknown>;
  history: EpochLog[];
  classes?: string[];
  /** `confusion[true][predicted]` of the validation split after the last epoch. */
  confusion?: number[][];
  stopReason?: StopReason;
  stopDetail?: string;
  best?: { monitor: string; value: number; epoch: number } | null;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/** A self-contained HTML page (no scripts, no external files) with the curves and the confusion matrix as inline SVG. */
export function renderReport(input: ReportInput): string {
  const h = input.history;
  const loss = lineChart("Loss", h, [
    { name: "train loss", values: h.map((e) => e.loss) },
    { name: "val log-loss", values: h.map((e) => e.val_loss) },
  ]);
  const acc = lineChart("Accuracy", h, [
    { name: "train acc", values: h.map((e) => e.acc) },
    { name: "val top-1", values: h.map((e) => e.val_acc) },
    { name: "val top-5", values: h.map((e) => e.val_top5) },
  ]);
  const lr = lineChart("Learning rate (end of epoch)", h, [{ name: "lr", values: h.map((e) => e.lr) }]);
  const last = h[h.length - 1];
  const summary = [
    ["status", input.stopReason ? `${input.stopReason}${input.stopDetail ? ` (${input.stopDetail})` : ""}` : "running"],
    ["epochs done", String(h.length)],
    ...(last ? [["last train loss / acc", `${fmt(last.loss)} / ${pct(last.acc)}`]] : []),
    ...(last?.val_acc !== undefined ? [["last val log-loss / top-1 / top-5", `${fmt(last.val_loss)} / ${pct(last.val_acc)} / ${pct(last.val_top5)}`]] : []),
    ...(input.best ? [[`best ${input.best.monitor}`, `${fmt(input.best.value)} (epoch ${input.best.epoch})`]] : []),
    ...(last ? [["training speed (last epoch)", `${last.images_per_sec.toFixed(2)} images/s`]] : []),
  ];
  const rows = h
    .map(
      (e) =>
        `<tr><td>${e.epoch}</td><td>${fmt(e.loss)}</td><td>${pct(e.acc)}</td><td>${fmt(e.val_loss)}</td><td>${pct(e.val_acc)}</td><td>${pct(e.val_top5)}</td><td>${e.lr.toExponential(3)}</td><td>${e.seconds.toFixed(1)}</td><td>${e.images_per_sec.toFixed(2)}</td></tr>`,
    )
    .join("\n");
  const confusion = input.confusion && input.classes ? confusionMatrix(input.confusion, input.classes) : "<p>No validation split: no confusion matrix.</p>";
  const config = Object.entries(input.config)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(typeof v === "string" ? v : JSON.stringify(v))}</code></td></tr>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4;text-align:left}code{font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
svg text{font:11px system-ui,sans-serif}
</style></head><body>
<h1>${esc(input.title)}</h1>
<table>${summary.map(([k, v]) => `<tr><th>${esc(k!)}</th><td>${esc(v!)}</td></tr>`).join("")}</table>
<h2>Curves</h2>
<div class="charts">${loss}${acc}${lr}</div>
<h2>Confusion matrix (validation, last epoch; rows = true class, columns = predicted)</h2>
${confusion}
<h2>Epochs</h2>
<table><tr><th>epoch</th><th>loss</th><th>acc</th><th>val log-loss</th><th>val top-1</th><th>val top-5</th><th>lr</th><th>seconds</th><th>images/s</th></tr>
${rows}</table>
<h2>Configuration</h2>
<table>${config}</table>
</body></html>
`;
}

function fmt(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? "–" : v.toFixed(4);
}

function pct(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? "–" : `${(v * 100).toFixed(1)} %`;
}

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

interface Series {
  name: string;
  values: (number | undefined)[];
}

function lineChart(title: string, history: EpochLog[], series: Series[]): string {
  const W = 340;
  const H = 230;
  const m = { l: 56, r: 12, t: 24, b: 52 };
  const shown = series.filter((s) => s.values.some((v) => v !== undefined && Number.isFinite(v)));
  const all = shown.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  if (all.length === 0) return `<svg width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="10" y="20">${esc(title)}: no data yet</text></svg>`;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const epochs = history.map((e) => e.epoch);
  const x0 = Math.min(...epochs);
  const x1 = Math.max(...epochs);
  const px = (e: number) => m.l + (x1 === x0 ? (W - m.l - m.r) / 2 : ((e - x0) / (x1 - x0)) * (W - m.l - m.r));
  const py = (v: number) => m.t + (1 - (v - lo) / (hi - lo)) * (H - m.t - m.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const grid = ticks
    .map((v) => `<line x1="${m.l}" x2="${W - m.r}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" stroke="#eee"/><text x="${m.l - 4}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${tick(v, (hi - lo) / 4)}</text>`)
    .join("");
  const xTicks = [...new Set([x0, Math.round((x0 + x1) / 2), x1])]
    .map((e) => `<text x="${px(e).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle">${e}</text>`)
    .join("");
  const lines = shown
    .map((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.values.map((v, j) => (v !== undefined && Number.isFinite(v) ? [px(epochs[j]!), py(v)] : null)).filter((p): p is number[] => p !== null);
      const path = pts.length > 1 ? `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => p.map((c) => c.toFixed(1)).join(",")).join(" ")}"/>` : "";
      const dots = pts.map((p) => `<circle cx="${p[0]!.toFixed(1)}" cy="${p[1]!.toFixed(1)}" r="3" fill="${color}"/>`).join("");
      const legend = `<rect x="${m.l + i * 95}" y="${H - 18}" width="10" height="10" fill="${color}"/><text x="${m.l + i * 95 + 14}" y="${H - 9}">${esc(s.name)}</text>`;
      return path + dots + legend;
    })
    .join("");
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<text x="${m.l}" y="14" font-weight="bold">${esc(title)}</text>${grid}
<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#999"/><line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#999"/>
${xTicks}<text x="${(W + m.l) / 2}" y="${H - m.b + 28}" text-anchor="middle">epoch</text>${lines}</svg>`;
}

/** A tick label with enough significant digits that ticks `step` apart read differently (lr 9.999e-4 vs 1.000e-3). */
function tick(v: number, step: number): string {
  const a = Math.abs(v);
  const digits = Math.min(8, Math.max(2, Math.ceil(Math.log10(Math.max(a, step) / step)) + 1));
  if (a !== 0 && (a < 1e-2 || a >= 1e4)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(Math.max(digits, a >= 1 ? Math.ceil(Math.log10(a + 1)) + 2 : 3))).toString();
}

function confusionMatrix(matrix: number[][], classes: string[]): string {
  const n = classes.length;
  const cell = Math.max(14, Math.min(40, Math.floor(520 / n)));
  const label = Math.min(110, 8 + 7 * Math.max(...classes.map((c) => c.length)));
  const W = label + n * cell + 10;
  const H = label + n * cell + 10;
  const cells: string[] = [];
  for (let i = 0; i < n; i++) {
    const row = matrix[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    for (let j = 0; j < n; j++) {
      const count = row[j] ?? 0;
      const frac = total ? count / total : 0;
      const x = label + j * cell;
      const y = label + i * cell;
      const fill = i === j ? `rgba(31,119,180,${(0.08 + 0.92 * frac).toFixed(3)})` : `rgba(214,39,40,${(frac === 0 ? 0 : 0.1 + 0.9 * frac).toFixed(3)})`;
      cells.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ddd"><title>true ${esc(classes[i]!)}, predicted ${esc(classes[j]!)}: ${count}</title></rect>` +
          (cell >= 18 ? `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${frac > 0.6 ? "#fff" : "#222"}">${count}</text>` : ""),
      );
    }
  }
  const rowLabels = classes.map((c, i) => `<text x="${label - 4}" y="${label + i * cell + cell / 2 + 4}" text-anchor="end">${esc(c)}</text>`).join("");
  const colLabels = classes
    .map((c, j) => {
      const x = label + j * cell + cell / 2 + 4;
      return `<text transform="translate(${x},${label - 4}) rotate(-60)" text-anchor="start">${esc(c)}</text>`;
    })
    .join("");
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="confusion matrix">${rowLabels}${colLabels}${cells.join("")}</svg>`;
}
