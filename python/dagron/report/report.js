/* dagron trace report: reads the runs embedded in this page and draws them.
 *
 * Data: one JSON element (#dagron-meta: names, sources, lanes per source, steps,
 * errors, metadata, the summary's counts, the profile) and one base64 element per
 * numeric column (#dagron-col-NAME), decoded into typed arrays, one entry per run.
 * Drawing: a canvas Gantt chart (a group per source, a row per compact lane), the
 * steps as a band above, the running count beneath. Each frame walks the runs once;
 * runs narrower than a pixel that touch in a row are merged into one rectangle, so
 * a frame costs a pass over the arrays and at most a few rectangles per pixel
 * column, whatever the number of runs. Nothing here fetches anything.
 */
(function () {
  "use strict";

  // ---- data ---------------------------------------------------------------
  const timings = { script: performance.now() }; // ms since navigation start, and spans
  const meta = JSON.parse(document.getElementById("dagron-meta").textContent);
  const ARRAYS = {
    f64: Float64Array, f32: Float32Array, u32: Uint32Array, u16: Uint16Array, u8: Uint8Array,
  };

  function decode(text) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  const col = {};
  for (const [name, kind] of meta.columns) {
    const element = document.getElementById("dagron-col-" + name);
    const bytes = decode(element.textContent);
    const Type = ARRAYS[kind];
    col[name] = new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
    element.textContent = ""; // the text is no longer needed
  }
  timings.decoded = performance.now();
  const n = meta.runs;
  const { start, end, duration, node, lane, source, status } = col;
  const namesElement = document.getElementById("dagron-names");
  const names = meta.names || (namesElement ? namesElement.textContent.split("\n") : []);
  if (namesElement) namesElement.textContent = "";
  const STATUS = meta.statuses; // completed failed timed_out open skipped cancelled
  const COLORS = ["#4c8bf5", "#e03131", "#f08c00", "#9775fa", "#adb5bd", "#6c757d"];
  const LABELS = ["completed", "failed", "timed out", "open (no end)", "skipped", "cancelled"];
  // When runs merge into one rectangle, the most telling status colours it.
  // How telling each status is (by status code, lower: more): failed, timed out,
  // open, completed, cancelled, skipped. Where runs share a pixel the more telling
  // colour shows; fills go least telling first, so the telling ones end on top.
  const RANK = [3, 0, 1, 2, 5, 4];
  const FILL_ORDER = [4, 5, 0, 3, 2, 1];
  const OPEN = 3;

  // Time span: every run, step and execution.
  let tMin = Infinity, tMax = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = start[i], e = end[i];
    if (s < tMin) tMin = s;
    if (s > tMax) tMax = s;
    if (e > tMax) tMax = e;
  }
  for (const [, a, b] of meta.steps.concat(meta.executions)) {
    if (a < tMin) tMin = a;
    if (a > tMax) tMax = a;
    if (b !== null && b > tMax) tMax = b;
  }
  if (!(tMin <= tMax)) { tMin = 0; tMax = 0; }
  const tLast = tMax; // the trace's last instant
  if (tMax === tMin) tMax = tMin + 1e-6; // a view needs some width
  const endOf = (i) => (end[i] === end[i] ? end[i] : tLast); // open runs run to the end

  // Rows: the compact lanes of each source, sources one after the other.
  const lanesOf = meta.lanes;
  const rowBase = new Uint32Array(lanesOf.length + 1);
  for (let s = 0; s < lanesOf.length; s++) rowBase[s + 1] = rowBase[s] + lanesOf[s];
  const rowCount = rowBase[lanesOf.length];
  const row = new Uint32Array(n);
  const perRow = new Uint32Array(rowCount + 1);
  for (let i = 0; i < n; i++) {
    const r = rowBase[source[i]] + lane[i];
    row[i] = r;
    perRow[r + 1]++;
  }
  for (let r = 0; r < rowCount; r++) perRow[r + 1] += perRow[r];
  const rowRuns = new Uint32Array(n); // run indices by row, each row in start order
  {
    const fill = perRow.slice(0, rowCount);
    for (let i = 0; i < n; i++) rowRuns[fill[row[i]]++] = i;
  }

  // Errors and metadata by run.
  const errorOf = new Map();
  meta.errors.run.forEach((run, k) => errorOf.set(run, meta.errors.text[meta.errors.which[k]]));
  const metadataOf = new Map();
  meta.metadata.run.forEach((run, k) => metadataOf.set(run, meta.metadata.text[k]));

  // Node -> its runs (built on first use: only selection needs it).
  let runsByNode = null;
  function runsOf(id) {
    if (!runsByNode) {
      const count = new Uint32Array(names.length + 1);
      for (let i = 0; i < n; i++) count[node[i] + 1]++;
      for (let k = 0; k < names.length; k++) count[k + 1] += count[k];
      const list = new Uint32Array(n);
      const fill = count.slice(0, names.length);
      for (let i = 0; i < n; i++) list[fill[node[i]]++] = i;
      runsByNode = { count, list };
    }
    return runsByNode.list.subarray(runsByNode.count[id], runsByNode.count[id + 1]);
  }

  // Figures for the header.
  let busy = 0, firstStart = Infinity, lastEnd = -Infinity;
  const byStatus = new Float64Array(STATUS.length);
  for (let i = 0; i < n; i++) {
    const s = start[i], e = endOf(i);
    byStatus[status[i]]++;
    if (s < firstStart) firstStart = s;
    if (e > lastEnd) lastEnd = e;
    busy += e - s;
  }
  const makespan = n ? lastEnd - firstStart : 0;
  const efficiency = makespan > 0 && rowCount ? busy / (makespan * rowCount) : 0;

  // ---- formatting ----------------------------------------------------------
  function fmtDur(s) {
    if (!(s === s)) return "\u2014";
    const a = Math.abs(s);
    if (a >= 100) return s.toFixed(1) + " s";
    if (a >= 1) return s.toFixed(3) + " s";
    if (a >= 1e-3) return (s * 1e3).toFixed(3) + " ms";
    if (a >= 1e-6) return (s * 1e6).toFixed(2) + " \u00b5s";
    if (a < 5e-10) return "0 s"; // below the last digit shown (and no "-0")
    return (s * 1e9).toFixed(0) + " ns";
  }
  function fmtTick(t, step) {
    const units = step >= 0.1 ? [1, "s"] : step >= 1e-4 ? [1e3, "ms"] : step >= 1e-7 ? [1e6, "\u00b5s"] : [1e9, "ns"];
    const v = t * units[0], st = step * units[0];
    const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(st) + 1e-9)));
    return v.toFixed(digits) + " " + units[1];
  }
  const fmtInt = (v) => Math.round(v).toLocaleString("en-US");
  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    if (props) for (const k in props) {
      if (k === "class") e.className = props[k];
      else if (k === "style") e.style.cssText = props[k];
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), props[k]);
      else e.setAttribute(k, props[k]);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  };

  // ---- page ---------------------------------------------------------------
  const compact = !!meta.compact;
  const stats = el("div", { class: "stats", id: "stats" });
  const addStat = (k, v, cls) => stats.append(el("div", { class: "stat " + (cls || "") }, el("div", { class: "k" }, k), el("div", { class: "v" }, String(v))));
  for (const [k, v] of meta.summary) {
    const bad = (k === "Failed" || k === "Timed out") && v !== "0";
    addStat(k, v, bad ? "bad" : "");
  }
  addStat("Makespan", fmtDur(makespan));
  addStat("Parallelism efficiency", (efficiency * 100).toFixed(1) + " %");
  addStat("Workers (lanes)", fmtInt(rowCount));
  if (meta.sources.length > 1) addStat("Sources", fmtInt(meta.sources.length));
  if (meta.profile) addStat("Critical path (DAG)", fmtDur(meta.profile.critical_duration));
  if (meta.dropped) addStat("Dropped events", fmtInt(meta.dropped), "warn");

  const legend = el("div", { class: "legend" });
  STATUS.forEach((s, k) => { if (byStatus[k]) legend.append(el("span", null, el("i", { style: "background:" + COLORS[k] }), LABELS[k])); });
  legend.append(el("span", null, el("i", { class: "path" }), "critical path (observed)"));
  if (meta.profile) legend.append(el("span", null, el("i", { class: "structural" }), "critical path (DAG)"));

  const gantt = el("canvas", { id: "gantt", "aria-label": "Gantt chart of the node runs" });
  const running = el("canvas", { id: "running", "aria-label": "running nodes over time" });
  const card = el("div", { class: "card", id: "card", hidden: "" });
  const chart = el("div", { class: "chart" }, gantt, el("div", { class: "running-title" }, "Running nodes over time (the dashed line: all lanes busy)"), running, card);
  const resetButton = el("button", { onclick: () => { resetView(); } }, "Reset zoom");
  const clearButton = el("button", { onclick: () => { select(-1, false); } }, "Clear selection");
  const where = meta.sources.length === 1 ? meta.sources[0] : meta.sources.length + " sources";
  document.body.append(
    el("h1", null, meta.title),
    el("div", { class: "sub" }, `${fmtInt(n)} node runs of ${fmtInt(names.length)} nodes \u00b7 ${where} \u00b7 dagron ${meta.version}`),
    stats,
    el("div", { class: "panel" },
      el("div", { class: "toolbar" }, legend, resetButton, clearButton,
        el("span", { class: "hint" }, "wheel: zoom \u00b7 drag: pan \u00b7 click: select \u00b7 double-click: reset")),
      chart),
  );

  // ---- geometry -------------------------------------------------------------
  const GUTTER = compact ? 120 : 170;
  const AXIS = 22;
  const STEPS = meta.steps.length ? 18 : 0;
  const GROUP = 20; // a source's header row
  const ROW = rowCount > 400 ? 8 : rowCount > 60 ? 12 : 20;
  const TOP = AXIS + STEPS;
  const groupY = new Float64Array(lanesOf.length + 1); // content y of each source's header
  for (let s = 0; s < lanesOf.length; s++) groupY[s + 1] = groupY[s] + GROUP + lanesOf[s] * ROW;
  const contentHeight = groupY[lanesOf.length];
  const rowY = new Float64Array(rowCount);
  for (let s = 0; s < lanesOf.length; s++)
    for (let l = 0; l < lanesOf[s]; l++) rowY[rowBase[s] + l] = groupY[s] + GROUP + l * ROW;

  const view = { t0: 0, t1: 1, y: 0 };
  let width = 0, ganttHeight = 0, viewportHeight = 0;
  const RUNNING_HEIGHT = compact ? 56 : 84;
  const dpr = Math.max(1, window.devicePixelRatio || 1);

  function layout() {
    width = Math.max(320, chart.clientWidth);
    coverage = new Float64Array(Math.ceil(width) + 2);
    whole = new Float64Array(Math.ceil(width) + 2);
    const most = compact ? 300 : Math.max(240, Math.round(window.innerHeight * 0.62));
    viewportHeight = Math.min(contentHeight, most - TOP);
    ganttHeight = TOP + viewportHeight + 2;
    for (const [canvas, h] of [[gantt, ganttHeight], [running, RUNNING_HEIGHT]]) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.height = h + "px";
    }
    clampView();
  }
  const span = () => view.t1 - view.t0;
  const xOf = (t) => GUTTER + ((t - view.t0) / span()) * (width - GUTTER);
  const tOf = (x) => view.t0 + ((x - GUTTER) / (width - GUTTER)) * span();

  function clampView() {
    const full = tMax - tMin;
    const pad = full * 0.05;
    let w = span();
    const least = Math.max(full * 1e-9, 1e-9);
    if (!(w >= least)) w = least;
    if (w > full + 2 * pad) w = full + 2 * pad;
    let t0 = view.t0;
    if (t0 < tMin - pad) t0 = tMin - pad;
    if (t0 + w > tMax + pad) t0 = tMax + pad - w;
    view.t0 = t0;
    view.t1 = t0 + w;
    view.y = Math.max(0, Math.min(view.y, contentHeight - viewportHeight));
  }
  function resetView() {
    const pad = (tMax - tMin) * 0.01;
    view.t0 = tMin - pad;
    view.t1 = tMax + pad;
    view.y = 0;
    clampView();
    schedule();
  }

  // ---- critical paths ---------------------------------------------------------
  // mark[i]: 1 = on the observed critical path, 2 = on the DAG's, 3 = both.
  const mark = new Uint8Array(n);
  let observedRuns = [];
  const ended = (i) => status[i] <= 2 && end[i] === end[i];
  function markNodes(ids, bit) {
    const runs = [];
    for (const id of ids) for (const i of runsOf(id)) if (ended(i)) { mark[i] |= bit; runs.push(i); }
    return runs;
  }
  // Without a DAG: from the run that ended last, back through the run that ended
  // last no later than the current one started (whatever its node), to the first.
  function observedChain() {
    const ids = byEnd();
    const ends = new Float64Array(ids.length);
    for (let k = 0; k < ids.length; k++) ends[k] = end[ids[k]];
    const chain = [];
    let k = ids.length - 1;
    while (k >= 0 && chain.length <= n) {
      const i = ids[k];
      chain.push(i);
      const began = start[i];
      let lo = 0, hi = k; // the last position < k whose end <= began
      while (lo < hi) { const mid = (lo + hi) >> 1; if (ends[mid] <= began) lo = mid + 1; else hi = mid; }
      k = lo - 1;
    }
    chain.reverse();
    for (const i of chain) mark[i] |= 1;
    return chain;
  }
  // The ended runs that took time, in order of their ends: a bucket sort (one
  // bucket per run over the time span), each bucket then sorted on its own.
  function byEnd() {
    let count = 0;
    for (let i = 0; i < n; i++) if (ended(i) && end[i] > start[i]) count++;
    const buckets = new Uint32Array(count + 1);
    const scale = count / (tMax - tMin);
    const bucket = (i) => Math.min(count - 1, Math.floor((end[i] - tMin) * scale));
    for (let i = 0; i < n; i++) if (ended(i) && end[i] > start[i]) buckets[bucket(i) + 1]++;
    for (let b = 0; b < count; b++) buckets[b + 1] += buckets[b];
    const ids = new Uint32Array(count);
    const fill = buckets.slice(0, count);
    for (let i = 0; i < n; i++) if (ended(i) && end[i] > start[i]) ids[fill[bucket(i)]++] = i;
    const byEndThenIndex = (a, b) => end[a] - end[b] || a - b;
    for (let b = 0; b < count; b++) {
      const from = buckets[b], to = buckets[b + 1];
      if (to - from > 1) ids.subarray(from, to).sort(byEndThenIndex);
    }
    return ids;
  }

  function computePaths() {
    if (meta.profile) {
      observedRuns = markNodes(meta.profile.observed, 1).sort((a, b) => start[a] - start[b]);
      markNodes(meta.profile.critical, 2);
    } else {
      observedRuns = observedChain();
    }
  }

  // ---- drawing ----------------------------------------------------------------
  const gctx = gantt.getContext("2d");
  const rctx = running.getContext("2d");
  let selected = -1, hovered = -1, frame = 0, lastDrawMs = 0, firstPaintMs = null;
  let coverage = new Float64Array(0), whole = new Float64Array(0); // per pixel column
  const pendX0 = new Float64Array(rowCount), pendX1 = new Float64Array(rowCount);
  const pendStatus = new Int8Array(rowCount);
  const outX0 = new Float64Array(rowCount), outX1 = new Float64Array(rowCount);

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function draw() {
    frame = 0;
    const began = performance.now();
    const W = width, plotW = W - GUTTER;
    const ctx = gctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, ganttHeight);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";

    // Axis and grid.
    const step = niceStep(span() / Math.max(2, plotW / 110));
    ctx.fillStyle = "#656d76";
    ctx.strokeStyle = "#eaeef2";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.moveTo(x, AXIS - 4);
      ctx.lineTo(x, ganttHeight);
      const label = fmtTick(t, step);
      if (x + 3 + ctx.measureText(label).width <= W) ctx.fillText(label, x + 3, AXIS / 2);
    }
    ctx.stroke();

    // Steps band.
    if (STEPS) {
      let k = 0;
      for (const [, a, b, label] of meta.steps) {
        const x0 = Math.max(GUTTER, xOf(a)), x1 = Math.min(W, xOf(b === null ? tLast : b));
        k++;
        if (x1 < GUTTER || x0 > W) continue;
        ctx.fillStyle = k % 2 ? "#dde6f3" : "#c9d6ea";
        ctx.fillRect(x0, AXIS + 1, Math.max(1, x1 - x0), STEPS - 3);
        if (x1 - x0 > 46) {
          ctx.fillStyle = "#3b4a60";
          ctx.fillText("step " + label, x0 + 4, AXIS + STEPS / 2);
        }
      }
      ctx.fillStyle = "#656d76";
      ctx.fillText("steps", 8, AXIS + STEPS / 2);
    }

    // Rows: clip to the plot, content scrolled by view.y.
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, TOP, plotW, viewportHeight + 2);
    ctx.clip();
    const yTop = TOP - view.y;
    for (let s = 0; s < lanesOf.length; s++) {
      const gy = yTop + groupY[s];
      if (gy > ganttHeight || gy + GROUP + lanesOf[s] * ROW < TOP) continue;
      ctx.fillStyle = "#eef2f6";
      ctx.fillRect(GUTTER, gy, plotW, GROUP - 2);
      for (let l = 1; l < lanesOf[s]; l += 2) {
        ctx.fillStyle = "#fafbfc";
        ctx.fillRect(GUTTER, gy + GROUP + l * ROW, plotW, ROW);
      }
    }

    // Runs: one pass; sub-pixel runs that touch in a row merge into one rectangle.
    const paths = STATUS.map(() => new Path2D());
    const labels = [];
    const k = plotW / span(), t0 = view.t0, t1 = view.t1;
    const h = ROW > 10 ? ROW - 3 : ROW - 1;
    pendX1.fill(-1);
    const cols = Math.ceil(plotW);
    coverage.fill(0);
    whole.fill(0);
    const yMin = view.y - ROW, yMax = view.y + viewportHeight;
    for (let i = 0; i < n; i++) {
      const s = start[i];
      if (s > t1) continue;
      const e = end[i] === end[i] ? end[i] : tLast;
      if (e < t0) continue;
      let x0 = (s - t0) * k, x1 = (e - t0) * k; // plot coordinates
      if (x0 < 0) x0 = 0;
      if (x1 > plotW) x1 = plotW;
      // Running count: the time each pixel column is covered, in pixels.
      if (x1 > x0) {
        const a = Math.floor(x0), b = Math.floor(x1);
        if (a === b) coverage[a] += x1 - x0;
        else {
          coverage[a] += a + 1 - x0;
          whole[a + 1] += 1; // columns a+1 .. b-1 wholly covered
          whole[b] -= 1;
          coverage[b] += x1 - b;
        }
      }
      const r = row[i], ry = rowY[r];
      if (ry < yMin || ry > yMax) continue;
      const st = status[i];
      if (x1 - x0 < 1) {
        // Narrower than a pixel: drawn as whole pixel cells [c0, c1), merged with
        // the row's pending run of cells; where two statuses share a cell, the
        // more telling one takes it.
        const c0 = Math.floor(x0), c1 = Math.max(c0 + 1, Math.ceil(x1));
        if (pendX1[r] >= 0 && c0 <= pendX1[r]) {
          const was = pendStatus[r];
          if (st === was) {
            if (c1 > pendX1[r]) pendX1[r] = c1;
            continue;
          }
          if (RANK[st] < RANK[was]) {
            if (c0 > pendX0[r]) { pendX1[r] = c0; flush(paths, r, yTop, h); }
            pendX0[r] = c0;
            pendX1[r] = Math.max(c1, pendX1[r]);
            pendStatus[r] = st;
            continue;
          }
          if (c1 <= pendX1[r]) continue; // its cells are taken
          const from = pendX1[r];
          flush(paths, r, yTop, h);
          pendX0[r] = from; pendX1[r] = c1; pendStatus[r] = st;
          continue;
        }
        if (pendX1[r] >= 0) flush(paths, r, yTop, h);
        pendX0[r] = c0; pendX1[r] = c1; pendStatus[r] = st;
        continue;
      }
      if (pendX1[r] >= 0) flush(paths, r, yTop, h);
      paths[st].rect(GUTTER + x0, yTop + ry + 1, x1 - x0, h);
      if (x1 - x0 > 44 && labels.length < 600) labels.push(i, x0, x1);
    }
    for (let r = 0; r < rowCount; r++) if (pendX1[r] >= 0) flush(paths, r, yTop, h);
    for (let c = 0, inside = 0; c < cols; c++) { inside += whole[c]; coverage[c] += inside; }
    for (const st of FILL_ORDER) {
      ctx.fillStyle = COLORS[st];
      ctx.fill(paths[st]);
    }

    // Names on slices wide enough for them.
    if (ROW >= 12) {
      ctx.fillStyle = "#ffffff";
      for (let j = 0; j < labels.length; j += 3) {
        const i = labels[j], x0 = labels[j + 1], x1 = labels[j + 2];
        const y = yTop + rowY[row[i]] + 1 + h / 2;
        let text = names[node[i]];
        const room = x1 - x0 - 8;
        if (ctx.measureText(text).width > room) {
          const keep = Math.floor((text.length * room) / ctx.measureText(text).width) - 1;
          if (keep < 2) continue;
          text = text.slice(0, keep) + "\u2026";
        }
        ctx.fillText(text, GUTTER + x0 + 4, y);
      }
    }

    // Critical paths, selection, hover: outlines over the fills.
    outline(ctx, (i) => mark[i] & 2, "#0ca678", 2, [4, 3], yTop, h, k);
    outline(ctx, (i) => mark[i] & 1, "#111827", 2, [], yTop, h, k);
    if (selected >= 0) outline(ctx, (i) => node[i] === selected, "#e64980", 3, [], yTop, h, k, runsOf(selected));
    if (hovered >= 0) outline(ctx, () => true, "#1f2328", 1.5, [], yTop, h, k, [hovered]);
    ctx.restore();

    // Gutter: the source groups and their lanes.
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, TOP, GUTTER - 1, viewportHeight + 2);
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, TOP, GUTTER, viewportHeight + 2);
    ctx.clip();
    for (let s = 0; s < lanesOf.length; s++) {
      const gy = yTop + groupY[s];
      if (gy > ganttHeight || gy + GROUP + lanesOf[s] * ROW < TOP) continue;
      ctx.fillStyle = "#1f2328";
      ctx.font = "600 11.5px system-ui, sans-serif";
      let label = meta.sources[s];
      while (label.length > 4 && ctx.measureText(label).width > GUTTER - 14) label = "\u2026" + label.slice(2);
      ctx.fillText(label, 6, gy + GROUP / 2 - 1);
      ctx.font = "10.5px system-ui, sans-serif";
      ctx.fillStyle = "#8c959f";
      if (ROW >= 12) for (let l = 0; l < lanesOf[s]; l++) ctx.fillText("lane " + l, 14, gy + GROUP + l * ROW + ROW / 2);
    }
    ctx.restore();
    ctx.strokeStyle = "#d0d7de";
    ctx.beginPath();
    ctx.moveTo(GUTTER - 0.5, 0);
    ctx.lineTo(GUTTER - 0.5, ganttHeight);
    ctx.stroke();

    drawRunning(cols);
    lastDrawMs = performance.now() - began;
  }

  function flush(paths, r, yTop, h) {
    const x0 = pendX0[r];
    paths[pendStatus[r]].rect(GUTTER + x0, yTop + rowY[r] + 1, pendX1[r] - x0, h);
    pendX1[r] = -1;
  }

  // Outline the runs that pass `test` (of `list`, else of the marked runs). As
  // with the fills, narrow outlines that would touch in a row merge into one, so a
  // long chain of tiny runs costs a few rectangles per pixel column, not one per run.
  function outline(ctx, test, color, lineWidth, dash, yTop, h, k, list) {
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.setLineDash(dash);
    ctx.beginPath();
    outX1.fill(-Infinity);
    const put = (r) => {
      const x0 = outX0[r], x1 = outX1[r];
      ctx.rect(x0 - 1, yTop + rowY[r] + 0.5, Math.max(2, x1 - x0 + 2), h + 1);
    };
    const each = (i) => {
      if (!test(i)) return;
      const s = start[i], e = endOf(i);
      if (s > view.t1 || e < view.t0) return;
      const r = row[i], ry = rowY[r];
      if (ry < view.y - ROW || ry > view.y + viewportHeight) return;
      const x0 = GUTTER + Math.max(-4, (s - view.t0) * k);
      const x1 = GUTTER + Math.min(width + 4, (e - view.t0) * k);
      // Merge only where one of the two is too narrow to show its own outline.
      if (x0 <= outX1[r] + 2 && (x1 - x0 < 3 || outX1[r] - outX0[r] < 3)) {
        if (x1 > outX1[r]) outX1[r] = x1;
        return;
      }
      if (outX1[r] > -Infinity) put(r);
      outX0[r] = x0;
      outX1[r] = x1;
    };
    if (list) for (const i of list) each(i);
    else for (let i = 0; i < n; i++) if (mark[i]) each(i);
    for (let r = 0; r < rowCount; r++) if (outX1[r] > -Infinity) put(r);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function drawRunning(cols) {
    const ctx = rctx, H = RUNNING_HEIGHT, W = width;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const cap = Math.max(1, rowCount);
    let most = cap;
    for (let c = 0; c < cols; c++) if (coverage[c] > most) most = coverage[c];
    const y = (v) => H - 4 - (v / most) * (H - 14);
    // Idle stretches (nothing running) tinted.
    ctx.fillStyle = "#fff4e5";
    for (let c = 0; c < cols; c++) {
      const t = tOf(GUTTER + c + 0.5);
      if (coverage[c] === 0 && t >= firstStart && t <= lastEnd) ctx.fillRect(GUTTER + c, 0, 1, H);
    }
    ctx.fillStyle = "#4c8bf5aa";
    ctx.strokeStyle = "#2f6fd6";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(GUTTER, y(0));
    for (let c = 0; c < cols; c++) ctx.lineTo(GUTTER + c + 0.5, y(coverage[c]));
    ctx.lineTo(GUTTER + cols, y(0));
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = "#8c959f";
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(GUTTER, Math.round(y(cap)) + 0.5);
    ctx.lineTo(W, Math.round(y(cap)) + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#656d76";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(`${fmtInt(cap)} lanes`, 8, y(cap));
    ctx.fillText("0", 8, y(0));
    ctx.strokeStyle = "#d0d7de";
    ctx.beginPath();
    ctx.moveTo(GUTTER - 0.5, 0);
    ctx.lineTo(GUTTER - 0.5, H);
    ctx.stroke();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  // ---- picking and the hover card ---------------------------------------------
  // The run under (x, y) in the chart's CSS pixels, or -1.
  function runAt(x, y) {
    if (x < GUTTER || y < TOP || y > TOP + viewportHeight) return -1;
    const cy = y - TOP + view.y;
    let r = -1;
    for (let s = 0; s < lanesOf.length && r < 0; s++) {
      const top = groupY[s] + GROUP;
      if (cy >= top && cy < top + lanesOf[s] * ROW) r = rowBase[s] + Math.floor((cy - top) / ROW);
    }
    if (r < 0) return -1;
    const slack = 3 * (span() / (width - GUTTER)); // three pixels
    const t = tOf(x);
    let lo = perRow[r], hi = perRow[r + 1]; // the first run in the row starting after t + slack
    while (lo < hi) { const mid = (lo + hi) >> 1; if (start[rowRuns[mid]] <= t + slack) lo = mid + 1; else hi = mid; }
    let best = -1, bestGap = Infinity;
    for (let p = lo - 1; p >= perRow[r] && p >= lo - 64; p--) {
      const i = rowRuns[p];
      const s = start[i], e = endOf(i);
      const gap = t < s ? s - t : t > e ? t - e : 0;
      if (gap <= slack && gap < bestGap) { best = i; bestGap = gap; if (gap === 0) break; }
    }
    return best;
  }

  function showCard(i, x, y) {
    if (i < 0) { card.hidden = true; return; }
    const st = status[i];
    const rows = [
      ["status", el("span", { class: "chip", style: "background:" + COLORS[st] }, LABELS[st])],
      ["start", fmtDur(start[i])],
      ["end", end[i] === end[i] ? fmtDur(end[i]) : "\u2014"],
      ["duration", fmtDur(duration[i])],
      ["source", meta.sources[source[i]] + " \u00b7 lane " + lane[i]],
    ];
    if (mark[i] & 1) rows.push(["critical path", "observed"]);
    if (mark[i] & 2) rows.push([mark[i] & 1 ? "" : "critical path", "DAG (structural)"]);
    const body = el("table", null, ...rows.map(([k, v]) => el("tr", null, el("td", null, k), el("td", null, v))));
    card.replaceChildren(el("div", { class: "name" }, names[node[i]]), body);
    const error = errorOf.get(i);
    if (error !== undefined) card.append(el("div", { style: "margin-top:4px;color:#cf222e;font-weight:600" }, "error"), el("pre", null, error.slice(0, 600)));
    const md = metadataOf.get(i);
    if (md !== undefined) card.append(el("div", { style: "margin-top:4px;color:#656d76" }, "metadata"), el("pre", null, md));
    card.hidden = false;
    const cw = card.offsetWidth, ch = card.offsetHeight;
    card.style.left = Math.min(x + 14, width - cw - 4) + "px";
    // Below the pointer, unless that would leave the window (then above it).
    const below = chart.getBoundingClientRect().top + y + 18 + ch <= window.innerHeight;
    card.style.top = (below ? y + 18 : Math.max(-chart.offsetTop, y - ch - 10)) + "px";
  }

  // ---- interaction -------------------------------------------------------------
  function zoomAt(x, factor) {
    const t = tOf(Math.max(GUTTER, x));
    view.t0 = t - (t - view.t0) * factor;
    view.t1 = t + (view.t1 - t) * factor;
    clampView();
  }
  let drag = null;
  for (const canvas of [gantt, running]) {
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = canvas.getBoundingClientRect();
      if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
        const d = event.shiftKey ? event.deltaY : event.deltaX;
        view.t0 += (d / (width - GUTTER)) * span();
        view.t1 += (d / (width - GUTTER)) * span();
        clampView();
      } else {
        const d = event.deltaMode === 1 ? event.deltaY * 33 : event.deltaY;
        zoomAt(event.clientX - box.left, Math.exp(Math.max(-1, Math.min(1, d * 0.002))));
      }
      schedule();
    }, { passive: false });
    canvas.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, t0: view.t0, t1: view.t1, vy: view.y, moved: false, canvas };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointerup", (event) => {
      if (drag && !drag.moved && canvas === gantt) {
        const box = gantt.getBoundingClientRect();
        const i = runAt(event.clientX - box.left, event.clientY - box.top);
        select(i >= 0 ? node[i] : -1, false);
      }
      if (drag) drag.canvas.classList.remove("dragging");
      drag = null;
    });
    canvas.addEventListener("dblclick", () => resetView());
  }
  gantt.addEventListener("pointermove", (event) => {
    const box = gantt.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    if (drag && drag.canvas === gantt) return dragTo(event);
    const i = runAt(x, y);
    if (i !== hovered) { hovered = i; schedule(); }
    showCard(i, x, y);
  });
  running.addEventListener("pointermove", (event) => { if (drag && drag.canvas === running) dragTo(event); });
  gantt.addEventListener("pointerleave", () => { if (!drag) { hovered = -1; card.hidden = true; schedule(); } });
  function dragTo(event) {
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; drag.canvas.classList.add("dragging"); card.hidden = true; }
    if (!drag.moved) return;
    const shift = (dx / (width - GUTTER)) * (drag.t1 - drag.t0);
    view.t0 = drag.t0 - shift;
    view.t1 = drag.t1 - shift;
    if (drag.canvas === gantt) view.y = drag.vy - dy;
    clampView();
    schedule();
  }
  window.addEventListener("resize", () => { layout(); schedule(); });

  // Select node `id` (-1: none); `centre`: bring its runs into view.
  function select(id, centre) {
    selected = id;
    for (const tr of document.querySelectorAll("tr[data-node]")) tr.classList.toggle("selected", Number(tr.dataset.node) === id);
    if (id >= 0 && centre) {
      const runs = runsOf(id);
      if (runs.length) {
        let a = Infinity, b = -Infinity, top = Infinity;
        for (const i of runs) { a = Math.min(a, start[i]); b = Math.max(b, endOf(i)); top = Math.min(top, rowY[row[i]]); }
        const w = Math.max((b - a) * 4, (tMax - tMin) * 1e-6, 1e-9);
        const mid = (a + b) / 2;
        view.t0 = mid - w / 2;
        view.t1 = mid + w / 2;
        view.y = top - viewportHeight / 3;
        clampView();
        gantt.scrollIntoView({ block: "nearest" });
      }
    }
    schedule();
  }

  // ---- tables --------------------------------------------------------------------
  function table(title, heads, rows, more) {
    const head = el("tr", null, ...heads.map(([h, num]) => el("th", num ? { class: "num" } : null, h)));
    const body = el("tbody");
    for (const [id, cells] of rows) {
      const tr = el("tr", { "data-node": id, onclick: () => select(id, true) },
        ...cells.map(([v, cls]) => el("td", cls ? { class: cls, title: cls === "text" ? v : "" } : null, v)));
      body.append(tr);
    }
    const panel = el("div", { class: "panel", id: "table-" + title.toLowerCase().replace(/[^a-z]+/g, "-") }, el("h2", null, title));
    if (rows.length) panel.append(el("table", { class: "rows" }, el("thead", null, head), body));
    else panel.append(el("div", { class: "empty" }, "None."));
    if (more) panel.append(el("div", { class: "more" }, more));
    return panel;
  }
  const ROWS = 15;
  function slowestTable() {
    const most = new Float64Array(names.length).fill(-1), total = new Float64Array(names.length);
    const count = new Uint32Array(names.length);
    for (let i = 0; i < n; i++) {
      const d = duration[i];
      if (!(d === d)) continue;
      const id = node[i];
      count[id]++;
      total[id] += d;
      if (d > most[id]) most[id] = d;
    }
    // The ROWS largest by slowest run, kept in a small sorted list.
    const top = [];
    for (let id = 0; id < names.length; id++) {
      if (most[id] < 0 || (top.length === ROWS && most[id] <= most[top[ROWS - 1]])) continue;
      let p = top.length;
      while (p > 0 && most[top[p - 1]] < most[id]) p--;
      top.splice(p, 0, id);
      if (top.length > ROWS) top.pop();
    }
    return table("Slowest nodes", [["node"], ["runs", 1], ["slowest run", 1], ["total", 1]],
      top.map((id) => [id, [[names[id], "text"], [fmtInt(count[id]), "num"], [fmtDur(most[id]), "num"], [fmtDur(total[id]), "num"]]]));
  }
  function pathTable() {
    if (meta.profile) {
      return table("Bottlenecks", [["node"], ["duration", 1], ["slack", 1], ["blocks", 1], ["on path"]],
        meta.profile.bottlenecks.map(([id, d, slack, blocked, on]) => [id, [[names[id], "text"], [fmtDur(d), "num"], [fmtDur(slack), "num"], [fmtInt(blocked), "num"], [on ? "\u2714 critical" : ""]]]));
    }
    const rows = observedRuns.slice(-ROWS * 2).map((i, k, all) => {
      const wait = k > 0 ? start[i] - endOf(all[k - 1]) : NaN;
      return [node[i], [[names[node[i]], "text"], [fmtDur(start[i]), "num"], [fmtDur(duration[i]), "num"], [k > 0 ? fmtDur(wait) : "", "num"]]];
    });
    const more = observedRuns.length > ROWS * 2 ? `the last ${ROWS * 2} of ${fmtInt(observedRuns.length)} runs` : null;
    return table("Critical path (observed)", [["node"], ["start", 1], ["duration", 1], ["waited", 1]], rows, more);
  }
  function failuresTable() {
    const rows = [];
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (status[i] !== 1 && status[i] !== 2) continue;
      total++;
      if (rows.length < 100) {
        const error = errorOf.get(i);
        rows.push([node[i], [[names[node[i]], "text"], [LABELS[status[i]]], [fmtDur(start[i]), "num"], [error === undefined ? "" : error.split("\n")[0], "text"]]]);
      }
    }
    return table("Failures", [["node"], ["status"], ["at", 1], ["error"]], rows, total > rows.length ? `${fmtInt(total - rows.length)} more` : null);
  }

  // ---- start --------------------------------------------------------------------
  timings.prepared = performance.now();
  layout();
  resetView();
  draw();
  timings.drawn = performance.now();
  // The frame after the one holding the first drawing: the chart is on screen.
  requestAnimationFrame(() => requestAnimationFrame(() => { firstPaintMs = performance.now(); }));
  const finish = () => {
    let t = performance.now();
    computePaths();
    timings.paths = performance.now() - t;
    t = performance.now();
    if (!compact) {
      document.body.append(
        el("div", { class: "tables" }, slowestTable(), pathTable(), failuresTable()),
        el("footer", null, "Made by dagron's trace report: one file, no network. Times are seconds since the trace's first event."),
      );
    }
    timings.tables = performance.now() - t;
    draw();
    api.readyMs = performance.now();
    api.ready = true;
  };

  // For tests and benchmarks: the state, and ways to act as a user would.
  const api = {
    ready: false,
    readyMs: null,
    timings,
    get firstPaintMs() { return firstPaintMs; },
    get lastDrawMs() { return lastDrawMs; },
    runs: n,
    names,
    view: () => ({ t0: view.t0, t1: view.t1, y: view.y }),
    gutter: GUTTER,
    runAt,
    nodeId: (name) => names.indexOf(name),
    nodeOf: (i) => node[i],
    // The running count the lower chart shows at time t (its pixel column's mean).
    runningAt: (t) => coverage[Math.floor(xOf(t) - GUTTER)],
    run: (i) => ({ node: names[node[i]], start: start[i], end: end[i], status: STATUS[status[i]] }),
    runsOf: (id) => Array.from(runsOf(id)),
    critical: () => ({ observed: observedRuns.slice(), structural: Array.from(mark.keys()).filter((i) => mark[i] & 2) }),
    // The run's box in the chart canvas's CSS pixels (null when out of view).
    box(i) {
      const k = (width - GUTTER) / span();
      const x0 = GUTTER + Math.max(0, (start[i] - view.t0) * k), x1 = GUTTER + Math.min(width - GUTTER, (endOf(i) - view.t0) * k);
      const y = TOP - view.y + rowY[row[i]] + 1;
      if (x1 < GUTTER || x0 > width || y < TOP || y > TOP + viewportHeight) return null;
      return { x: x0, y, w: Math.max(1, x1 - x0), h: ROW > 10 ? ROW - 3 : ROW - 1 };
    },
    zoom(x, factor) { zoomAt(x, factor); const t = performance.now(); draw(); return performance.now() - t; },
    select: (id) => select(id, true),
  };
  window.dagronReport = api;
  if (n > 200000) setTimeout(finish, 0); // big traces: the chart first, the rest after
  else finish();
})();
