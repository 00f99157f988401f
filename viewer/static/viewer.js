/* wavescore viewer: fetches windows of signal for the visible range and draws them in Bokeh.
 *
 * The page embeds a Bokeh document (viewer/page.py). Its CustomJS callbacks only call into this
 * module: `attach(models)` once the document is ready, `onRangeChange()` whenever the x range
 * moves (pan, zoom, keys), `onOverviewTap(x)` on a click in the night overview. Event overlays,
 * the review workflow and sleep scoring live in review.js, called through `hook()`.
 *
 * Fetching: debounced (leading edge, 60 ms trailing, 200 ms max wait), at most one request in
 * flight, identical requests skipped. A response is drawn only if it answers the newest request
 * issued and its range is the one requested, so stale data is never shown for a range.
 * Gains, offsets, order and visibility are applied here without refetching.
 * Wire format: docs/server-api.md.
 */
(function () {
  "use strict";

  const DEBOUNCE_MS = 60;
  const MAX_WAIT_MS = 200;
  const GAIN_STEP = Math.SQRT2;
  const MARGIN_WINDOWS = 1;

  const st = {
    cfg: null,
    rec: null,
    m: null,               // Bokeh models handed over by attach()
    order: [],             // channel indices, top to bottom
    visible: new Set(),
    gain: {},              // index -> multiplier chosen by the user
    scale: {},             // index -> amplitude mapped to one lane (first window)
    data: {},              // index -> last drawn channel window (values kept for re-gain)
    selected: null,
    filters: { hp: "", lp: "", notch: "" },
    seq: 0,                // id of the newest request issued
    inFlight: false,
    pendingFire: false,
    lastKey: null,
    drawnKey: null,
    timer: null,
    firstCallAt: null,
    lastFireAt: -Infinity,
    rangeChangedAt: null,
    lastCachedKey: null,
    loaded: null,          // {start_s, stop_s, res, sel} of the data drawn
    eventsUrlMissing: false,
    overlaySeq: 0,
    startClockS: 0,
    timings: [],           // {total_ms, fetch_ms, draw_ms} per drawn window
    fetches: 0,
    errors: [],
  };

  // ------------------------------------------------------------------ formatting

  function pad2(v) { return (v < 10 ? "0" : "") + v; }

  function hms(totalS, withFraction) {
    let s = Math.floor(totalS);
    const frac = totalS - s;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    let out = pad2(h) + ":" + pad2(m) + ":" + pad2(s);
    if (withFraction) { out += "." + Math.floor(frac * 10 + 1e-6); }
    return out;
  }

  function spanS() {
    if (!st.m) { return 60; }
    return st.m.x_range.end - st.m.x_range.start;
  }

  function formatClock(tick, fine) {
    // fine: tenths of a second when the main window is shorter than 20 s (default)
    const t = ((st.startClockS + tick) % 86400 + 86400) % 86400;
    return hms(t, fine !== false && spanS() < 20);
  }

  function formatElapsed(tick) {
    const sign = tick < 0 ? "-" : "+";
    return sign + hms(Math.abs(tick), spanS() < 20);
  }

  function parseClock(text) {
    const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$/.exec(text);
    if (!m) { return null; }
    const h = +m[1], mi = +m[2], s = m[3] ? +m[3] : 0;
    if (h > 23 || mi > 59 || s >= 60) { return null; }
    return h * 3600 + mi * 60 + s;
  }

  // ------------------------------------------------------------------ wire format

  function decodeWindow(buf) {
    const n = new DataView(buf).getUint32(0, true);
    const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    const data = new Float32Array(buf, 4 + n);  // 4 + n is a multiple of 4 by construction
    return { head, data };
  }

  // ------------------------------------------------------------------ drawing

  function laneOf(index) {
    const shown = st.order.filter((i) => st.visible.has(i));
    const pos = shown.indexOf(index);
    return pos < 0 ? null : shown.length - 1 - pos;
  }

  function robustStats(values, mode) {
    // median (centre) and 1..99 % spread on at most ~4000 finite values
    const step = Math.max(1, Math.floor(values.length / 4000));
    const sample = [];
    for (let i = 0; i < values.length; i += step) {
      const v = values[i];
      if (Number.isFinite(v)) { sample.push(v); }
    }
    if (mode === "minmax" && step > 1) {  // keep min/max pairs together
      for (let i = 1; i < values.length; i += 2 * step) {
        if (Number.isFinite(values[i])) { sample.push(values[i]); }
      }
    }
    if (sample.length === 0) { return { centre: 0, spread: 1 }; }
    sample.sort((a, b) => a - b);
    const q = (p) => sample[Math.min(sample.length - 1, Math.floor(p * (sample.length - 1)))];
    const spread = q(0.99) - q(0.01);
    return { centre: q(0.5), spread: spread > 0 ? spread : (Math.abs(q(0.5)) || 1) };
  }

  function buildXY(ch) {
    // The whole fetched window (the visible range plus up to one window each side) goes to
    // Bokeh once per fetch: a pan or page inside it then changes only the x range, and Bokeh
    // repaints without any data change (no re-slicing, no new arrays, no index rebuild). That
    // measured 20-30 ms faster per pan than handing over only the visible slice (docs/viewer.md).
    const k0 = st.sourceIdx[ch.index];
    const src = st.m.sources[k0];
    const lane = laneOf(ch.index);
    if (lane === null || ch.n === 0) { src.data = { x: [], y: [], lo: [], hi: [] }; return; }
    const i0 = 0;
    const i1 = ch.n;
    const m = i1 - i0;
    const k = (st.gain[ch.index] || 1) * 0.9 / (st.scale[ch.index] || 1);
    const c = ch.centre;
    const v = ch.values;
    const x = new Float64Array(m);
    if (ch.mode === "raw") {
      const y = new Float64Array(m);
      for (let j = 0; j < m; j++) {
        const i = i0 + j;
        x[j] = ch.t0_s + i * ch.step_s;
        y[j] = lane + (v[i] - c) * k;
      }
      src.data = { x, y, lo: y, hi: y };
    } else {
      // min..max per pixel column as a filled band, at least one pixel thick, so a single
      // short event (one premature beat) still shows at full height
      const lo = new Float64Array(m);
      const hi = new Float64Array(m);
      const span = st.m.y_range.end - st.m.y_range.start;
      const minH = span / Math.max(50, st.m.plot.inner_height || 500);
      for (let j = 0; j < m; j++) {
        const i = i0 + j;
        x[j] = Math.max(ch.t0_s + (i + 0.5) * ch.step_s, ch.start_s);
        let a = lane + (v[2 * i] - c) * k;
        let b = lane + (v[2 * i + 1] - c) * k;
        if (b - a < minH) { const mid = (a + b) / 2; a = mid - minH / 2; b = mid + minH / 2; }
        lo[j] = a; hi[j] = b;
      }
      src.data = { x, y: lo, lo, hi };
    }
    const shown = st.visible.has(ch.index);
    st.m.renderers[k0].visible = shown && ch.mode === "raw";
    st.m.bands[k0].visible = shown && ch.mode !== "raw";
  }

  function resliceAll() {
    for (const idx of Object.keys(st.data)) { buildXY(st.data[idx]); }
  }

  function redrawAll() {
    resliceAll();
    updateAxisLabels();
    renderChannelList();
  }

  function updateAxisLabels() {
    const shown = st.order.filter((i) => st.visible.has(i));
    const ticks = [];
    const overrides = {};
    shown.forEach((idx, pos) => {
      const lane = shown.length - 1 - pos;
      const ch = st.rec.channels[idx];
      ticks.push(lane);
      overrides[lane] = ch.name + " (" + (ch.unit || "-") + ")";
    });
    st.m.yaxis.ticker.ticks = ticks;
    st.m.yaxis.major_label_overrides = overrides;
    st.m.y_range.setv({ start: -0.6, end: Math.max(shown.length, 1) - 0.4 });
    hook("onLanesChanged");
    st.m.renderers.forEach((r, k) => {
      const idx = st.rec.channels[k].index;
      const mode = st.data[idx] ? st.data[idx].mode : "raw";
      r.visible = st.visible.has(idx) && mode === "raw";
      st.m.bands[k].visible = st.visible.has(idx) && mode !== "raw";
    });
  }

  function drawWindow(head, data) {
    for (const meta of head.channels) {
      const values = data.subarray(meta.offset, meta.offset + meta.length);
      const stats = robustStats(values, meta.mode);
      if (!st.scale[meta.index]) { st.scale[meta.index] = stats.spread; }
      st.data[meta.index] = {
        index: meta.index, mode: meta.mode, t0_s: meta.t0_s, step_s: meta.step_s, n: meta.n,
        start_s: head.start_s, values, centre: stats.centre, filtered: meta.filtered,
        note: meta.note,
      };
      buildXY(st.data[meta.index]);
    }
    // channels not in this response (hidden) are cleared
    for (const idx of Object.keys(st.data)) {
      if (!head.channels.some((c) => c.index === +idx)) {
        st.m.sources[st.sourceIdx[idx]].data = { x: [], y: [], lo: [], hi: [] };
        delete st.data[idx];
      }
    }
    const notes = head.channels.filter((c) => c.note).map((c) => c.name + ": " + c.note);
    const filtered = head.channels.filter((c) => c.filtered).length;
    document.getElementById("ws-filter-note").textContent =
      (filtered ? "filtered: " + filtered + " channel(s). " : "") + notes.slice(0, 3).join(" ");
  }

  // ------------------------------------------------------------------ fetching

  function plotWidthPx() {
    const w = st.m.plot.inner_width;
    return Math.max(100, Math.min(st.cfg.max_px || 8000, Math.round(w > 0 ? w : 1200)));
  }

  function selectionKey() {
    const shown = st.order.filter((i) => st.visible.has(i));
    return shown.join(",") + "|" + st.filters.hp + "|" + st.filters.lp + "|" + st.filters.notch;
  }

  function currentRequest() {
    // The visible range plus one window on each side, at the same seconds per pixel: panning
    // and paging by up to a window then show data already received while the next window
    // (re-centred) is fetched.
    const xr = st.m.x_range;
    const viewStart = xr.start, viewStop = xr.end, span = viewStop - viewStart;
    const width = plotWidthPx();
    const maxPx = st.cfg.max_px || 8000;
    let margin = span * MARGIN_WINDOWS;
    const maxSpan = span * maxPx / width;
    if (span + 2 * margin > maxSpan) { margin = Math.max(0, (maxSpan - span) / 2); }
    const start = +Math.max(0, viewStart - margin).toFixed(6);
    const stop = +Math.min(st.rec.duration_s, viewStop + margin).toFixed(6);
    const px = Math.max(1, Math.min(maxPx, Math.round(width * (stop - start) / span)));
    const shown = st.order.filter((i) => st.visible.has(i));
    const params = new URLSearchParams({
      start_s: String(start), stop_s: String(stop), px: String(px), channels: shown.join(","),
    });
    for (const k of ["hp", "lp", "notch"]) {
      if (st.filters[k]) { params.set(k, st.filters[k]); }
    }
    return {
      start_s: start, stop_s: stop, view_start_s: +viewStart.toFixed(6),
      view_stop_s: +viewStop.toFixed(6), res: span / width, sel: selectionKey(),
      query: params.toString(),
    };
  }

  function covered() {
    // whether the data drawn already covers the visible range at the current resolution
    const L = st.loaded;
    if (!L || L.sel !== selectionKey()) { return false; }
    const xr = st.m.x_range;
    const res = (xr.end - xr.start) / plotWidthPx();
    return xr.start >= L.start_s - 1e-9 && xr.end <= L.stop_s + 1e-9 &&
      Math.abs(res - L.res) <= 0.02 * L.res;
  }

  function afterPaint(fn) {
    // Bokeh draws the canvas in an animation-frame callback; a task queued from the next
    // frame's callback runs once every callback of that frame (Bokeh's paint included) is done.
    requestAnimationFrame(() => setTimeout(fn, 0));
  }

  function recordPaint(rec) {
    performance.mark("ws-painted");
    st.timings.push(rec);
    if (st.timings.length > 200) { st.timings.shift(); }
    setStatus(rec.kind === "cached"
      ? `${rec.total_ms.toFixed(0)} ms to paint (data already loaded)`
      : `${rec.channels} ch · ${rec.fetch_ms.toFixed(0)} ms fetch · ${rec.total_ms.toFixed(0)} ms to paint` +
        (rec.clipped ? " · clipped" : ""));
  }

  function onRangeChange() {
    if (!st.m) { return; }
    if (st.rangeChangedAt === null) {
      st.rangeChangedAt = performance.now();
      performance.mark("ws-range-change");
    }
    const xr = st.m.x_range;
    const key = xr.start.toFixed(6) + ":" + xr.end.toFixed(6);
    if (covered() && key !== st.lastCachedKey) {
      // Bokeh repaints the loaded data for the new range in its next animation frame
      st.lastCachedKey = key;
      const changedAt = st.rangeChangedAt;
      const view = [+xr.start.toFixed(6), +xr.end.toFixed(6)];
      st.rangeChangedAt = null;
      afterPaint(() => recordPaint({
        kind: "cached", total_ms: performance.now() - changedAt, fetch_ms: 0, draw_ms: 0,
        start_s: view[0], stop_s: view[1],
      }));
    }
    updateCursor();
    hook("onRangeChange");
    schedule();
  }

  function schedule() {
    const now = performance.now();
    if (st.timer === null && now - st.lastFireAt > DEBOUNCE_MS) {
      fire();  // leading edge
      return;
    }
    if (st.firstCallAt === null) { st.firstCallAt = now; }
    if (st.timer !== null) { clearTimeout(st.timer); }
    const wait = Math.max(0, Math.min(DEBOUNCE_MS, st.firstCallAt + MAX_WAIT_MS - now));
    st.timer = setTimeout(() => { st.timer = null; st.firstCallAt = null; fire(); }, wait);
  }

  function fire() {
    st.lastFireAt = performance.now();
    if (st.inFlight) { st.pendingFire = true; return; }
    const req = currentRequest();
    if (req.query === st.lastKey) { st.rangeChangedAt = null; return; }
    st.lastKey = req.query;
    const seq = ++st.seq;
    st.inFlight = true;
    st.fetches += 1;
    const t0 = performance.now();
    const changedAt = st.rangeChangedAt === null ? t0 : st.rangeChangedAt;
    st.rangeChangedAt = null;
    const url = st.cfg.api_url + "/recordings/" + encodeURIComponent(st.rec.id) + "/window?" + req.query;
    fetch(url)
      .then((resp) => {
        if (!resp.ok) {
          return resp.json().then((p) => { throw new Error(p.detail || resp.statusText); });
        }
        return resp.arrayBuffer();
      })
      .then((buf) => {
        const t1 = performance.now();
        const { head, data } = decodeWindow(buf);
        // draw only the answer to the newest request, and only for the range it asked for
        const answersNewest = seq === st.seq;
        const sameRange = Math.abs(head.requested_start_s - req.start_s) < 1e-6 &&
          Math.abs(head.requested_stop_s - req.stop_s) < 1e-6;
        if (!answersNewest || !sameRange) { return; }
        drawWindow(head, data);
        st.loaded = { start_s: head.start_s, stop_s: head.stop_s, res: req.res, sel: req.sel };
        const t2 = performance.now();
        afterPaint(() => recordPaint({
          kind: "fetched", total_ms: performance.now() - changedAt, fetch_ms: t1 - t0,
          draw_ms: t2 - t1, start_s: req.view_start_s, stop_s: req.view_stop_s,
          fetch_start_s: req.start_s, fetch_stop_s: req.stop_s,
          channels: head.channels.length, clipped: head.clipped,
        }));
        hook("onWindowDrawn", req);
      })
      .catch((err) => {
        st.errors.push(String(err));
        setStatus("error: " + err.message);
        st.lastKey = null;
      })
      .finally(() => {
        st.inFlight = false;
        if (st.pendingFire) { st.pendingFire = false; fire(); }
      });
    updateRangeLabel();
  }

  function refetch() { st.lastKey = null; schedule(); }

  // ------------------------------------------------------------------ review module hooks

  // viewer/static/review.js (overlays, review keys, sleep scoring, hypnogram) registers itself
  // as window.wavescore.review; the viewer calls it at these points.
  function hook(name, ...args) {
    const r = window.wavescore && window.wavescore.review;
    if (!r || typeof r[name] !== "function") { return undefined; }
    try {
      return r[name](...args);
    } catch (err) {
      st.errors.push(String(err && err.stack ? err.stack : err));
      throw err;
    }
  }

  // ------------------------------------------------------------------ overview strip

  function loadOverview() {
    const ch = st.order.find((i) => st.visible.has(i));
    if (ch === undefined) { return; }
    const px = Math.max(200, Math.min(4000, Math.round(st.m.overview.inner_width || 1200)));
    const url = st.cfg.api_url + "/recordings/" + encodeURIComponent(st.rec.id) +
      "/window?start_s=0&stop_s=" + st.rec.duration_s + "&px=" + px + "&channels=" + ch;
    fetch(url).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error("overview " + r.status))))
      .then((buf) => {
        const { head, data } = decodeWindow(buf);
        const meta = head.channels[0];
        const v = data.subarray(meta.offset, meta.offset + meta.length);
        const s = robustStats(v, meta.mode);
        const base = s.centre - s.spread, span = 2 * s.spread || 1;
        const raw = meta.mode === "raw";
        const x = new Float64Array(meta.n);
        const lo = new Float64Array(meta.n);
        const hi = new Float64Array(meta.n);
        const norm = (val) => Math.min(1, Math.max(0, (val - base) / span));
        for (let i = 0; i < meta.n; i++) {
          x[i] = meta.t0_s + (i + (raw ? 0 : 0.5)) * meta.step_s;
          lo[i] = norm(raw ? v[i] : v[2 * i]);
          hi[i] = Math.max(norm(raw ? v[i] : v[2 * i + 1]), lo[i] + 0.02);
        }
        st.m.overview_src.data = { x, lo, hi };
      })
      .catch((err) => st.errors.push(String(err)));
  }

  function updateCursor() {
    st.m.cursor.setv({ left: st.m.x_range.start, right: st.m.x_range.end });  // one change
    updateRangeLabel();
  }

  function updateRangeLabel() {
    const xr = st.m.x_range;
    const preset = document.getElementById("ws-preset");
    if (preset) {  // show the preset matching the window length, if any
      const span = xr.end - xr.start;
      const whole = Math.abs(span - st.rec.duration_s) < 1e-6 && xr.start <= 1e-6;
      const match = Array.from(preset.options).find((o) =>
        (o.value === "all" && whole) || (o.value !== "all" && Math.abs(+o.value - span) < 1e-6));
      preset.value = match ? match.value : "";
    }
    const el = document.getElementById("ws-range");
    if (el) {
      el.textContent = formatClock(xr.start) + " – " + formatClock(xr.end) +
        "  (" + formatElapsed(xr.start) + ", " + (xr.end - xr.start).toFixed(1) + " s)";
    }
  }

  function onOverviewTap(x) {
    const len = spanS();
    setRange(x - len / 2, x + len / 2);
  }

  // ------------------------------------------------------------------ navigation

  function setRange(start, stop) {
    const dur = st.rec.duration_s;
    let len = Math.min(stop - start, dur);
    if (start < 0) { start = 0; }
    if (start + len > dur) { start = Math.max(0, dur - len); }
    st.m.x_range.setv({ start: start, end: start + len });
    onRangeChange();
  }

  function shift(seconds) {
    const xr = st.m.x_range;
    setRange(xr.start + seconds, xr.end + seconds);
  }

  function setWindowLength(seconds) {
    if (seconds === null) { setRange(0, st.rec.duration_s); return; }
    const start = st.m.x_range.start;
    setRange(start, start + seconds);
  }

  function jumpToClock(text) {
    const sod = parseClock(text);
    if (sod === null) { setStatus("time must be hh:mm:ss"); return false; }
    const elapsed = ((sod - st.startClockS) % 86400 + 86400) % 86400;
    if (elapsed > st.rec.duration_s) { setStatus(text + " is outside the recording"); return false; }
    setRange(elapsed, elapsed + spanS());
    return true;
  }

  function changeGain(index, factor) {
    if (index === null || index === undefined) { return; }
    st.gain[index] = (st.gain[index] || 1) * factor;
    if (st.data[index]) { buildXY(st.data[index]); }
    renderChannelList();
  }

  function selectChannel(index) {
    st.selected = index;
    for (const li of document.querySelectorAll("#ws-channel-list li")) {
      li.classList.toggle("selected", +li.dataset.index === index);
    }
  }

  function moveSelection(delta) {
    const shown = st.order.filter((i) => st.visible.has(i));
    if (shown.length === 0) { return; }
    const pos = Math.max(0, shown.indexOf(st.selected));
    selectChannel(shown[Math.min(shown.length - 1, Math.max(0, pos + delta))]);
  }

  function moveChannel(index, delta) {
    const pos = st.order.indexOf(index);
    const to = pos + delta;
    if (to < 0 || to >= st.order.length) { return; }
    st.order.splice(pos, 1);
    st.order.splice(to, 0, index);
    redrawAll();
  }

  function toggleChannel(index, show) {
    if (show) { st.visible.add(index); } else { st.visible.delete(index); }
    redrawAll();
    refetch();
  }

  function onKey(ev) {
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    if (hook("onKey", ev) === true) { ev.preventDefault(); return; }
    const handled = {
      ArrowRight: () => shift(st.cfg.epoch_s),
      ArrowLeft: () => shift(-st.cfg.epoch_s),
      PageDown: () => shift(spanS()),
      PageUp: () => shift(-spanS()),
      ArrowUp: () => moveSelection(-1),
      ArrowDown: () => moveSelection(1),
      "+": () => changeGain(st.selected, GAIN_STEP),
      "=": () => changeGain(st.selected, GAIN_STEP),
      "-": () => changeGain(st.selected, 1 / GAIN_STEP),
      Home: () => setRange(0, spanS()),
      End: () => setRange(st.rec.duration_s - spanS(), st.rec.duration_s),
    }[ev.key];
    if (handled) { ev.preventDefault(); handled(); }
  }

  // ------------------------------------------------------------------ page controls

  function setStatus(text) {
    const el = document.getElementById("ws-status");
    if (el) { el.textContent = text; }
  }

  function renderChannelList() {
    const list = document.getElementById("ws-channel-list");
    if (!list) { return; }
    list.textContent = "";
    for (const idx of st.order) {
      const ch = st.rec.channels[idx];
      const li = document.createElement("li");
      li.dataset.index = String(idx);
      if (idx === st.selected) { li.classList.add("selected"); }
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = st.visible.has(idx);
      box.title = "show/hide";
      box.addEventListener("change", () => toggleChannel(idx, box.checked));
      const name = document.createElement("span");
      name.className = "ws-ch-name";
      name.textContent = ch.name;
      name.title = ch.name + " · " + ch.kind + " · " + (ch.unit || "no unit") + " · " + ch.fs + " Hz";
      const gain = document.createElement("span");
      gain.className = "ws-gain";
      gain.textContent = "×" + (st.gain[idx] || 1).toFixed(2);
      const mk = (label, title, fn) => {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = label; b.title = title;
        b.addEventListener("click", (e) => { e.stopPropagation(); fn(); });
        return b;
      };
      li.append(box, name, gain,
        mk("−", "lower gain (−)", () => changeGain(idx, 1 / GAIN_STEP)),
        mk("+", "raise gain (+)", () => changeGain(idx, GAIN_STEP)),
        mk("▲", "move up", () => moveChannel(idx, -1)),
        mk("▼", "move down", () => moveChannel(idx, 1)));
      li.addEventListener("click", (e) => {
        if (e.target === li || e.target === name || e.target === gain) { selectChannel(idx); }
      });
      list.append(li);
    }
  }

  function wireControls() {
    const byId = (id) => document.getElementById(id);
    byId("ws-preset").addEventListener("change", (e) => {
      const v = e.target.value;
      setWindowLength(v === "all" ? null : +v);
    });
    byId("ws-epoch-back").addEventListener("click", () => shift(-st.cfg.epoch_s));
    byId("ws-epoch-fwd").addEventListener("click", () => shift(st.cfg.epoch_s));
    byId("ws-page-back").addEventListener("click", () => shift(-spanS()));
    byId("ws-page-fwd").addEventListener("click", () => shift(spanS()));
    byId("ws-jump").addEventListener("submit", (e) => {
      e.preventDefault();
      jumpToClock(byId("ws-jump-time").value);
    });
    for (const k of ["hp", "lp", "notch"]) {
      byId("ws-" + k).addEventListener("change", (e) => { st.filters[k] = e.target.value; refetch(); });
    }
    document.addEventListener("keydown", onKey);
  }

  // ------------------------------------------------------------------ start-up

  function boot(cfg, item, target) {
    st.cfg = cfg;
    st.rec = cfg.recording;
    st.eventsUrlMissing = !cfg.events_available;
    st.order = st.rec.channels.map((c) => c.index);
    st.visible = new Set(st.order);
    st.selected = st.order.length ? st.order[0] : null;
    st.sourceIdx = {};
    st.rec.channels.forEach((c, k) => { st.sourceIdx[c.index] = k; });
    if (st.rec.start_time) {
      const m = /T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(st.rec.start_time);
      if (m) { st.startClockS = +m[1] * 3600 + +m[2] * 60 + +m[3]; }
    }
    wireControls();
    renderChannelList();
    Bokeh.embed.embed_item(item, target);
  }

  function attach(models) {
    st.m = models;
    updateAxisLabels();
    updateCursor();
    // the plot's width is known once it has been laid out
    const start = () => {
      if (!(st.m.plot.inner_width > 0)) { requestAnimationFrame(start); return; }
      fire();
      loadOverview();
      hook("onAttach");
    };
    requestAnimationFrame(start);
  }

  window.wavescore = Object.assign(window.wavescore || {}, {
    boot, attach, onRangeChange, onOverviewTap, formatClock, formatElapsed, parseClock,
    setRange, shift, setWindowLength, jumpToClock, changeGain, toggleChannel, moveChannel,
    decodeWindow, laneOf, spanS, setStatus, hms, refetch, state: st,
  });
})();
