/* wavescore review: event overlays, keyboard review of proposals, new events, undo/redo, and
 * sleep scoring with a hypnogram and sleep statistics.
 *
 * Loaded after viewer.js; registers itself as `window.wavescore.review`, which the viewer calls
 * (`onAttach`, `onRangeChange`, `onWindowDrawn`, `onLanesChanged`, `onKey`) and which the Bokeh
 * document's UI events call (`on_tap`, `on_panstart`, `on_pan`, `on_panend`,
 * `onHypnogramTap`).
 *
 * Every action that talks to the server (queue navigation, decisions, edits, new events, epoch
 * stages, undo/redo) runs in one chain, in key order: a confirm pressed right after N applies to
 * the event N selected, and Ctrl+Z undoes the last key's decision. Every write carries the event
 * version the page saw; a 409 (someone changed it since) is said in a message and the event is
 * reloaded. Overlays are fetched for the range of each window fetch (so debounced like windows);
 * an overlay answer is drawn only if no newer request or local change came after it.
 * Keys and panels: docs/viewer.md.
 */
(function () {
  "use strict";

  const W = window.wavescore;
  const st = W.state;

  const CATEGORY_COLOURS = {
    beat: "#d62728", rhythm: "#9467bd", sleep_stage: "#2ca02c", seizure: "#c2185b",
    spindle: "#1f77b4", arousal: "#ff7f0e", artifact: "#8c564b", other: "#555555",
  };
  const STATUS_STYLE = {
    proposed: { dash: "dashed", width: 1.6, alpha: 0.07 },
    confirmed: { dash: "solid", width: 1.6, alpha: 0.17 },
    edited: { dash: "solid", width: 1.6, alpha: 0.17 },
    rejected: { dash: "dotted", width: 1.0, alpha: 0.03 },
    file: { dash: "dotted", width: 1.0, alpha: 0.05 },
  };
  const REJECTED_COLOUR = "#9a9a9a";
  const FILE_COLOUR = "#777777";
  const BEAT_ZOOM_S = 60;        // beats are drawn (and fetched) for windows up to this long
  const BEAT_LABEL_S = 20;       // beat labels are written for windows up to this long
  const OVERLAY_LIMIT = 5000;
  const OVERLAY_TTL_MS = 15000;  // overlays older than this are fetched again with the window
  const QUEUE_LIMIT = 2000;
  const STATS_DELAY_MS = 400;
  // AASM keys. 4 is not a stage since AASM 2007 merged R&K stages 3 and 4 into N3: it is
  // refused with a message rather than guessed.
  const STAGE_KEYS = { "0": "W", "1": "N1", "2": "N2", "3": "N3", "5": "R", u: "?", U: "?" };
  const STAGE_Y = { W: 4, R: 3, N1: 2, N2: 1, N3: 0 };

  const rv = {
    items: [],            // events in the loaded overlay range (wire form, EventOut)
    annotations: [],      // the recording's own annotations in that range
    truncated: false,
    loaded: null,         // {start_s, stop_s, key, at} of the overlays drawn
    lastRange: null,      // [start_s, stop_s] of the last window fetch
    seq: 0,               // newest overlay request (or local change) id
    selected: null,       // the selected event (wire form)
    fromQueue: false,     // the selection came from queue navigation
    queue: { list: [], pos: -1, loaded: false, truncated: false },
    chain: Promise.resolve(),
    busy: 0,
    scoring: false,
    stages: {},           // epoch index -> {own, prop} stage events
    pending: {},          // epoch index -> stage label sent, not answered yet
    stats: null,
    statsTimer: null,
    drag: null,
    shiftDown: false,
    messages: [],         // every message shown {text, kind} (the tests read them)
    picker: null,         // {event, options, active}
  };

  // ------------------------------------------------------------------ helpers

  const byId = (id) => document.getElementById(id);
  const epochS = () => st.cfg.epoch_s || 30;
  const nEpochs = () => Math.max(1, Math.ceil(st.rec.duration_s / epochS() - 1e-9));
  const recPath = () => "/recordings/" + encodeURIComponent(st.rec.id);
  const canAnnotate = () => !!(st.cfg.user && st.cfg.user.can_annotate);
  const clock = (t) => W.formatClock(t, false);

  function api(method, path, body) {
    const opts = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(st.cfg.api_url + path, opts).then((resp) => {
      if (resp.ok) { return resp.json(); }
      return resp.json().catch(() => ({})).then((p) => {
        const err = new Error(p.detail || p.title || resp.statusText || ("HTTP " + resp.status));
        err.status = resp.status;
        err.problem = p;
        throw err;
      });
    });
  }

  // The current state of an event, or null when it is deleted. Asked through the list route
  // (a deleted event is simply absent) so a deletion is not a failed request in the console.
  function readEvent(ev) {
    const q = new URLSearchParams({
      start_s: String(ev.onset_s), stop_s: String(ev.onset_s + 1e-3), category: ev.category,
      include_rejected: "true",
    });
    return api("GET", "/recordings/" + encodeURIComponent(ev.recording_id) + "/events?" +
      q.toString()).then((body) => body.events.find((x) => x.event_id === ev.event_id) || null);
  }

  function message(text, kind) {
    rv.messages.push({ text, kind: kind || "info" });
    if (rv.messages.length > 100) { rv.messages.shift(); }
    const el = byId("ws-message");
    if (!el) { return; }
    el.textContent = text;
    el.className = "ws-message" + (kind === "error" ? " error" : "");
    el.hidden = false;
    clearTimeout(message.timer);
    message.timer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 8000 : 3500);
  }

  // Run `fn` after every action queued before it; errors are reported, never left unhandled.
  function enqueue(fn) {
    rv.busy += 1;
    const run = rv.chain.then(fn).catch(reportError);
    rv.chain = run.finally(() => { rv.busy -= 1; });
    return run;
  }

  function idle() {
    return new Promise((resolve) => {
      const check = () => (rv.busy === 0 ? resolve(true) : setTimeout(check, 10));
      check();
    });
  }

  function reportError(err) {
    const type = (err && err.problem && err.problem.type) || "";
    if (err && err.status === 409 && type.endsWith("stale-edit")) {
      message("Not saved: this event was changed by someone else since it was loaded (" +
        err.message + "). It has been reloaded; look again and decide.", "error");
      refreshAfterConflict();
      return;
    }
    if (err && err.status === 409 && type.endsWith("nothing-to-undo")) {
      message(err.message.replace(/^'[^']*' has/, "You have"), "error");
      return;
    }
    if (err && err.status === 403) {
      message("Not allowed: " + err.message, "error");
      return;
    }
    if (err && err.status) {
      message("The server refused: " + err.message, "error");
      return;
    }
    st.errors.push(String(err && err.stack ? err.stack : err));
    message("Error: " + (err && err.message ? err.message : err), "error");
  }

  function refreshAfterConflict() {
    const sel = rv.selected;
    loadOverlaysForView(true);
    if (rv.scoring || rv.hypnogramShown) { loadStages(); }
    if (sel) {
      readEvent(sel).then((fresh) => {
        if (fresh) { applyEvent(fresh); } else { removeEvent(sel.event_id); }
      }).catch(reportError);
    }
  }

  function requireAnnotate() {
    if (canAnnotate()) { return true; }
    message("Your role (" + (st.cfg.user.role || "viewer") + ") may view but not annotate.", "error");
    return false;
  }

  // ------------------------------------------------------------------ overlays

  function showRejected() {
    const box = byId("ws-show-rejected");
    return !!(box && box.checked);
  }

  function overlayKey() {
    return (W.spanS() <= BEAT_ZOOM_S ? "beats" : "") + "|" + (showRejected() ? "rej" : "");
  }

  function onWindowDrawn(req) {
    rv.lastRange = [req.start_s, req.stop_s];
    loadOverlays(req.start_s, req.stop_s, false);
  }

  function loadOverlaysForView(force) {
    if (!st.m) { return Promise.resolve(); }
    const r = rv.lastRange || [st.m.x_range.start, st.m.x_range.end];
    return loadOverlays(r[0], r[1], force);
  }

  function loadOverlays(start, stop, force) {
    const key = overlayKey();
    const L = rv.loaded;
    if (!force && L && L.key === key && start >= L.start_s - 1e-6 && stop <= L.stop_s + 1e-6 &&
        performance.now() - L.at < OVERLAY_TTL_MS) {
      return Promise.resolve();
    }
    const seq = ++rv.seq;
    const beats = key.startsWith("beats");
    const q = new URLSearchParams({
      start_s: start.toFixed(3), stop_s: stop.toFixed(3), limit: String(OVERLAY_LIMIT),
    });
    if (!beats) {
      q.set("category", Object.keys(CATEGORY_COLOURS).filter((c) => c !== "beat").join(","));
    }
    if (showRejected()) { q.set("include_rejected", "true"); }
    const events = st.cfg.events_available
      ? api("GET", recPath() + "/events?" + q.toString())
      : Promise.resolve({ events: [], truncated: false });
    const aq = "?start_s=" + start.toFixed(3) + "&stop_s=" + stop.toFixed(3);
    const annotations = api("GET", recPath() + "/annotations" + aq)
      .then((body) => (body.annotations || []).filter((a) => beats || a.kind !== "beat"))
      .catch((err) => { if (err.status === 404) { return []; } throw err; });
    return Promise.all([events, annotations]).then(([e, a]) => {
      if (seq !== rv.seq) { return; }  // a newer request or a local change came after it
      rv.items = e.events;
      rv.truncated = e.truncated;
      const note = byId("ws-overlay-note");
      if (note) {
        note.textContent = e.truncated ? "events: the first " + OVERLAY_LIMIT +
          " in this range are drawn; zoom in for the rest" : "";
      }
      rv.annotations = a;
      rv.loaded = { start_s: start, stop_s: stop, key, at: performance.now() };
      if (rv.selected) {
        const fresh = rv.items.find((x) => x.event_id === rv.selected.event_id);
        if (fresh) { rv.selected = fresh; renderSelected(); }
      }
      drawOverlays();
    }).catch(reportError);
  }

  // Vertical extents [y0, y1] of an event: its channels' lanes, the whole plot, or a strip at
  // the top for sleep stages (the hypnogram shows them in full).
  function extentsOf(category, channels, top, bottom) {
    if (category === "sleep_stage") { return [[top - 0.14, top]]; }
    const beat = category === "beat";
    if (!channels || channels.length === 0) { return [beat ? [top - 0.22, top] : [bottom, top]]; }
    const out = [];
    for (const c of channels) {
      const lane = W.laneOf(c);
      if (lane === null || lane === undefined) { continue; }
      out.push(beat ? [lane + 0.26, lane + 0.48] : [lane - 0.48, lane + 0.48]);
    }
    return out;
  }

  function channelNames(channels) {
    if (!channels || channels.length === 0) { return "all channels"; }
    return channels.map((c) => (st.rec.channels[c] ? st.rec.channels[c].name : "#" + c)).join(", ");
  }

  function drawOverlays() {
    if (!st.m) { return; }
    const top = st.m.y_range.end;
    const bottom = st.m.y_range.start;
    const span = W.spanS();
    const tips = () => ({ event_id: [], label: [], category: [], status: [], conf: [], source: [],
      author: [] });
    const spans = Object.assign({ left: [], right: [], bottom: [], top: [], color: [], line: [],
      dash: [], width: [], alpha: [] }, tips());
    const points = Object.assign({ x0: [], y0: [], x1: [], y1: [], color: [], dash: [],
      width: [] }, tips());
    const marks = { x: [], y: [], color: [] };
    const labels = { x: [], y: [], text: [], color: [] };
    const showRej = showRejected();

    const push = (o) => {
      for (const [y0, y1] of o.extents) {
        const tip = o.target;
        if (o.duration > 0) {
          spans.left.push(o.onset); spans.right.push(o.onset + o.duration);
          spans.bottom.push(y0); spans.top.push(y1); spans.color.push(o.colour);
          spans.line.push(o.colour); spans.dash.push(o.style.dash);
          spans.width.push(o.style.width); spans.alpha.push(o.style.alpha);
        } else {
          points.x0.push(o.onset); points.x1.push(o.onset); points.y0.push(y0);
          points.y1.push(y1); points.color.push(o.colour); points.dash.push(o.style.dash);
          points.width.push(o.style.width);
        }
        const into = o.duration > 0 ? spans : points;
        into.event_id.push(tip.event_id); into.label.push(tip.label);
        into.category.push(tip.category); into.status.push(tip.status);
        into.conf.push(tip.conf); into.source.push(tip.source); into.author.push(tip.author);
      }
      if (o.extents.length && o.text) {
        labels.x.push(o.onset); labels.y.push(o.extents[0][1]); labels.text.push(o.text);
        labels.color.push(o.colour);
      }
    };

    for (const a of rv.annotations) {
      const kind = a.kind === "stage" ? "sleep_stage" : a.kind;
      const names = a.channel ? [st.rec.channels.findIndex((c) => c.name === a.channel)] : [];
      const lab = (a.label || "").toUpperCase();
      const colour = kind === "beat" ? (lab === "N" || lab === "." ? "#777777" : "#d62728")
        : FILE_COLOUR;
      push({
        onset: a.onset_s, duration: a.duration_s, colour, style: STATUS_STYLE.file,
        extents: extentsOf(kind, names.filter((i) => i >= 0), top, bottom),
        text: kind === "beat" && span > BEAT_LABEL_S ? "" : (a.label || a.kind || ""),
        target: { event_id: "", label: a.label, category: a.kind, status: "in file",
          conf: "—", source: a.source || "recording", author: "recording" },
      });
    }
    for (const ev of rv.items) {
      if (ev.status === "rejected" && !showRej) { continue; }
      const colour = ev.status === "rejected" ? REJECTED_COLOUR
        : (CATEGORY_COLOURS[ev.category] || CATEGORY_COLOURS.other);
      const extents = extentsOf(ev.category, ev.channels, top, bottom);
      push({
        onset: ev.onset_s, duration: ev.duration_s, colour,
        style: STATUS_STYLE[ev.status] || STATUS_STYLE.confirmed, extents,
        text: ev.category === "beat" && span > BEAT_LABEL_S ? ""
          : ev.label + (ev.status === "proposed" ? "?" : ""),
        target: {
          event_id: ev.event_id, label: ev.label, category: ev.category, status: ev.status,
          conf: ev.confidence === null || ev.confidence === undefined ? "—"
            : ev.confidence.toFixed(2),
          source: ev.source,
          author: ev.updated_by && ev.updated_by !== ev.created_by
            ? ev.created_by + " → " + ev.updated_by : ev.created_by,
        },
      });
      if (ev.status === "edited" && extents.length) {
        marks.x.push(ev.onset_s); marks.y.push(extents[0][1]); marks.color.push(colour);
      }
    }
    st.m.spans.data = spans;
    st.m.points.data = points;
    st.m.marks.data = marks;
    st.m.labels.data = labels;
    drawSelection();
  }

  // A local change (the server's answer to our write) replaces the event everywhere; overlay
  // answers already on their way are dropped (they may predate it) and the next window fetch
  // loads them again.
  function applyEvent(ev) {
    if (ev.recording_id !== st.rec.id) { return; }
    rv.seq += 1;
    if (rv.loaded) { rv.loaded.at = -Infinity; }
    const k = rv.items.findIndex((x) => x.event_id === ev.event_id);
    if (k >= 0) { rv.items[k] = ev; } else { rv.items.push(ev); }
    rv.items.sort((a, b) => a.onset_s - b.onset_s || a.event_id - b.event_id);
    const q = rv.queue.list.findIndex((x) => x.event_id === ev.event_id);
    if (q >= 0) { rv.queue.list[q] = ev; }
    if (rv.selected && rv.selected.event_id === ev.event_id) { rv.selected = ev; }
    if (ev.category === "sleep_stage") { setStageEvent(ev); }
    drawOverlays();
    renderSelected();
    renderQueueInfo();
  }

  function removeEvent(eventId) {
    rv.seq += 1;
    if (rv.loaded) { rv.loaded.at = -Infinity; }
    rv.items = rv.items.filter((x) => x.event_id !== eventId);
    for (const slot of Object.values(rv.stages)) {
      if (slot.own && slot.own.event_id === eventId) { slot.own = null; }
      if (slot.prop && slot.prop.event_id === eventId) { slot.prop = null; }
    }
    if (rv.selected && rv.selected.event_id === eventId) { rv.selected = null; }
    drawOverlays();
    drawHypnogram();
    renderSelected();
  }

  // ------------------------------------------------------------------ selection

  function drawSelection() {
    const box = st.m && st.m.selected_box;
    if (!box) { return; }
    const ev = rv.selected;
    if (!ev) { box.visible = false; return; }
    const top = st.m.y_range.end;
    const bottom = st.m.y_range.start;
    let ext = extentsOf(ev.category, ev.channels, top, bottom);
    if (!ext.length) { ext = [[bottom, top]]; }
    const minW = W.spanS() / 250;
    const left = ev.duration_s >= minW ? ev.onset_s : ev.onset_s - minW / 2;
    const right = ev.duration_s >= minW ? ev.onset_s + ev.duration_s : ev.onset_s + minW / 2;
    box.setv({
      left, right, bottom: Math.min(...ext.map((e) => e[0])),
      top: Math.max(...ext.map((e) => e[1])), visible: true,
    });
  }

  function select(ev, fromQueue) {
    rv.selected = ev;
    rv.fromQueue = !!fromQueue;
    drawSelection();
    renderSelected();
    renderQueueInfo();
  }

  function centreOn(ev) {
    const E = epochS();
    if (rv.scoring) {
      const i = Math.min(nEpochs() - 1, Math.floor((ev.onset_s + 1e-6) / E));
      W.setRange(i * E, (i + 1) * E);
      return;
    }
    let len = W.spanS();
    if (ev.category === "beat" && len > BEAT_ZOOM_S) { len = 10; }
    if (ev.duration_s > 0.8 * len) { len = Math.min(st.rec.duration_s, ev.duration_s * 1.25); }
    const mid = ev.onset_s + ev.duration_s / 2;
    W.setRange(mid - len / 2, mid + len / 2);
  }

  function renderSelected() {
    const el = byId("ws-selected");
    if (!el) { return; }
    const ev = rv.selected;
    if (!ev) {
      el.className = "ws-muted";
      el.textContent = "none — N for the next proposal, or click an event";
      return;
    }
    el.className = "";
    el.textContent = "";
    const add = (label, value, cls) => {
      const row = document.createElement("div");
      const b = document.createElement("span");
      b.className = "ws-muted";
      b.textContent = label + " ";
      const v = document.createElement("span");
      v.textContent = value;
      if (cls) { v.className = cls; }
      row.append(b, v);
      el.append(row);
    };
    add("label", ev.label + " (" + ev.category + ")");
    add("status", ev.status, "ws-sel-status " + ev.status);
    add("at", clock(ev.onset_s) + " (" + W.formatElapsed(ev.onset_s) + ")");
    add("duration", ev.duration_s.toFixed(2) + " s");
    add("channels", channelNames(ev.channels));
    add("confidence", ev.confidence === null ? "—" : ev.confidence.toFixed(2));
    add("source", ev.source + (ev.run_id !== null ? " (run " + ev.run_id + ")" : ""));
    add("by", ev.created_by + (ev.updated_by !== ev.created_by ? ", then " + ev.updated_by : ""));
    add("event", "#" + ev.event_id + " v" + ev.version);
  }

  function on_tap(e) {
    if (!st.m || rv.drag) { return; }
    const span = W.spanS();
    const tol = span / 150;
    const top = st.m.y_range.end;
    const bottom = st.m.y_range.start;
    const showRej = showRejected();
    let best = null;
    for (const ev of rv.items) {
      if (ev.status === "rejected" && !showRej) { continue; }
      if (e.x < ev.onset_s - tol || e.x > ev.onset_s + ev.duration_s + tol) { continue; }
      const hit = extentsOf(ev.category, ev.channels, top, bottom)
        .some(([y0, y1]) => e.y >= y0 && e.y <= y1);
      if (!hit) { continue; }
      if (!best || ev.duration_s < best.duration_s) { best = ev; }
    }
    if (best) {
      const q = rv.queue.list.findIndex((x) => x.event_id === best.event_id);
      if (q >= 0) { rv.queue.pos = q; }
      select(best, q >= 0);
    } else if (rv.selected) {
      select(null, false);
    }
  }

  // ------------------------------------------------------------------ review queue

  function loadQueue() {
    return api("GET", recPath() + "/review-queue?limit=" + QUEUE_LIMIT).then((q) => {
      rv.queue.list = q.events;
      rv.queue.truncated = q.truncated;
      rv.queue.loaded = true;
      rv.queue.pos = -1;
      renderQueueInfo();
    });
  }

  function renderQueueInfo() {
    const el = byId("ws-queue-info");
    if (!el) { return; }
    const q = rv.queue;
    if (!q.loaded) { el.textContent = "review queue: N to start"; return; }
    const open = q.list.filter((e) => e.status === "proposed").length;
    const here = q.pos >= 0 && q.pos < q.list.length && rv.fromQueue ? "proposal " + (q.pos + 1) +
      " of " + q.list.length + " · " : "";
    el.textContent = here + open + (q.truncated ? "+" : "") + " undecided (least confident first)";
  }

  // Move through the queue snapshot: forward to the next still-proposed event, backward to
  // the previous one whatever its status (to look again at what was just decided).
  function stepQueue(dir, wrapped) {
    const q = rv.queue;
    if (!q.loaded) { return loadQueue().then(() => stepQueue(dir, true)); }
    if (dir < 0) {
      if (q.pos <= 0) { message("This is the first proposal of the queue."); return null; }
      return visit(q.pos - 1, dir, wrapped);
    }
    for (let i = q.pos + 1; i < q.list.length; i++) {
      if (q.list[i].status === "proposed") { return visit(i, dir, wrapped); }
    }
    if (wrapped) {
      message("No proposals left to review on this recording.");
      select(null, false);
      return null;
    }
    // end of the snapshot: take the server's queue again (others may have decided some)
    return loadQueue().then(() => {
      if (q.list.length) { message("End of the queue: back to the least confident open proposal."); }
      return stepQueue(dir, true);
    });
  }

  function visit(i, dir, wrapped) {
    const q = rv.queue;
    q.pos = i;
    return readEvent(q.list[i]).then((fresh) => {
      if (!fresh) {  // deleted meanwhile
        q.list.splice(i, 1);
        q.pos = i - 1;
        return dir > 0 ? stepQueue(dir, wrapped) : null;
      }
      q.list[i] = fresh;
      if (dir > 0 && fresh.status !== "proposed") { return stepQueue(dir, wrapped); }
      select(fresh, true);
      centreOn(fresh);
      return fresh;
    });
  }

  // ------------------------------------------------------------------ decisions and edits

  function decide(action) {
    if (!requireAnnotate()) { return null; }
    return enqueue(() => {
      const ev = rv.selected;
      if (!ev) { message("Select an event first (N for the next proposal, or click one)."); return null; }
      const path = "/events/" + ev.event_id;
      const req = action === "delete"
        ? api("DELETE", path + "?version=" + ev.version)
        : api("POST", path + "/" + action, { version: ev.version });
      return req.then((after) => {
        if (action === "delete") {
          removeEvent(after.event_id);
          message("Deleted " + after.label + " at " + clock(after.onset_s) + " (Ctrl+Z undoes).");
          return null;
        }
        applyEvent(after);
        message((action === "confirm" ? "Confirmed " : "Rejected ") + after.label + " at " +
          clock(after.onset_s) + ".");
        if (rv.fromQueue && byId("ws-auto-advance") && byId("ws-auto-advance").checked) {
          return stepQueue(1, false);
        }
        return after;
      });
    });
  }

  function relabel(label) {
    if (!requireAnnotate()) { return null; }
    return enqueue(() => {
      const ev = rv.selected;
      if (!ev) { return null; }
      return api("PATCH", "/events/" + ev.event_id, { version: ev.version, label }).then((after) => {
        applyEvent(after);
        message("Relabelled " + ev.label + " → " + after.label + " at " + clock(after.onset_s) + ".");
        return after;
      });
    });
  }

  function createEvent(draft) {
    if (!requireAnnotate()) { return null; }
    return enqueue(() => api("POST", recPath() + "/events", draft).then((ev) => {
      applyEvent(ev);
      select(ev, false);
      message("Created " + ev.label + " (" + ev.category + ") at " + clock(ev.onset_s) + " on " +
        channelNames(ev.channels) + ".");
      return ev;
    }));
  }

  function undoRedo(which) {
    if (!requireAnnotate()) { return null; }
    return enqueue(() => api("POST", "/" + which).then((ev) => {
      if (ev.recording_id !== st.rec.id) {
        message((which === "undo" ? "Undid" : "Redid") + " a decision on recording " +
          ev.recording_id + " (" + ev.label + ").");
        return null;
      }
      // The answer does not say whether the event now exists (undoing a creation deletes it):
      // read it back.
      return readEvent(ev).then((fresh) => {
        if (fresh) { applyEvent(fresh); } else { removeEvent(ev.event_id); }
        message((which === "undo" ? "Undone: " : "Redone: ") + ev.label + " (" + ev.category +
          ") at " + clock(ev.onset_s) + " is now " + (fresh ? fresh.status : "deleted") + ".");
        if (ev.category === "sleep_stage") { scheduleStats(); }
        const xr = st.m.x_range;
        const inView = ev.onset_s < xr.end && ev.onset_s + ev.duration_s >= xr.start;
        if (rv.scoring && ev.category === "sleep_stage") { centreOn(ev); }
        else if (!inView) { centreOn(ev); }
        if (fresh) { select(fresh, rv.queue.list.some((x) => x.event_id === fresh.event_id)); }
        return fresh;
      });
    }));
  }

  // ------------------------------------------------------------------ label picker

  function openPicker() {
    const ev = rv.selected;
    if (!ev) { message("Select an event first (N for the next proposal, or click one)."); return; }
    if (!requireAnnotate()) { return; }
    const options = (st.cfg.labels && st.cfg.labels[ev.category]) || [];
    rv.picker = { event: ev, options, active: 0 };
    byId("ws-picker-title").textContent = "Label for the " + ev.category + " at " +
      clock(ev.onset_s) + " (now " + ev.label + ")";
    const input = byId("ws-picker-filter");
    input.value = "";
    input.placeholder = options.length ? "type to filter, Enter to pick, Esc to cancel"
      : "type a label, Enter to save, Esc to cancel";
    byId("ws-picker").hidden = false;
    renderPicker();
    input.focus();
  }

  function pickerMatches() {
    const p = rv.picker;
    const f = byId("ws-picker-filter").value.trim().toLowerCase();
    if (!f) { return p.options; }
    const exact = p.options.filter((o) => o.label.toLowerCase() === f);
    const rest = p.options.filter((o) => o.label.toLowerCase() !== f &&
      (o.label.toLowerCase().includes(f) || (o.description || "").toLowerCase().includes(f)));
    return exact.concat(rest);
  }

  function renderPicker() {
    const list = byId("ws-picker-list");
    list.textContent = "";
    const matches = pickerMatches();
    rv.picker.active = Math.max(0, Math.min(rv.picker.active, matches.length - 1));
    matches.forEach((o, k) => {
      const li = document.createElement("li");
      li.dataset.label = o.label;
      if (k === rv.picker.active) { li.classList.add("active"); }
      const b = document.createElement("b");
      b.textContent = o.label;
      const d = document.createElement("span");
      d.className = "ws-muted";
      d.textContent = o.description || "";
      li.append(b, d);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); closePicker(o.label); });
      list.append(li);
    });
  }

  function closePicker(label) {
    const p = rv.picker;
    rv.picker = null;
    byId("ws-picker").hidden = true;
    byId("ws-picker-filter").blur();
    if (label && p && rv.selected && rv.selected.event_id === p.event.event_id &&
        label !== p.event.label) {
      relabel(label);
    }
  }

  function onPickerKey(e) {
    if (!rv.picker) { return; }
    const matches = pickerMatches();
    if (e.key === "Escape") { closePicker(null); }
    else if (e.key === "ArrowDown") { rv.picker.active += 1; renderPicker(); }
    else if (e.key === "ArrowUp") { rv.picker.active = Math.max(0, rv.picker.active - 1); renderPicker(); }
    else if (e.key === "Enter") {
      const typed = byId("ws-picker-filter").value.trim();
      if (matches.length) { closePicker(matches[rv.picker.active].label); }
      else if (!rv.picker.options.length && typed) { closePicker(typed); }
      else { message("No label of this category matches “" + typed + "”.", "error"); return; }
    } else { return; }
    e.preventDefault();
    e.stopPropagation();
  }

  // ------------------------------------------------------------------ new events (Shift+drag)

  function setShift(down) {
    rv.shiftDown = down;
    if (st.m && st.m.pan_tool && canAnnotate()) { st.m.pan_tool.active = !down; }
  }

  function channelAtY(y) {
    const shown = st.order.filter((i) => st.visible.has(i));
    const lane = Math.round(y);
    if (lane < 0 || lane >= shown.length) { return null; }
    return shown[shown.length - 1 - lane];
  }

  function on_panstart(e) {
    if (!(e.modifiers && e.modifiers.shift) || !canAnnotate() || !st.m) { return; }
    const all = byId("ws-new-all") && byId("ws-new-all").checked;
    const ch = channelAtY(e.y);
    if (!all && ch === null) { return; }
    const lane = all ? null : W.laneOf(ch);
    rv.drag = { x0: e.x, x1: e.x, channel: all ? null : ch };
    st.m.draft_box.setv({
      left: e.x, right: e.x, visible: true,
      bottom: lane === null ? st.m.y_range.start : lane - 0.48,
      top: lane === null ? st.m.y_range.end : lane + 0.48,
    });
  }

  function on_pan(e) {
    if (!rv.drag) { return; }
    rv.drag.x1 = e.x;
    st.m.draft_box.setv({ left: Math.min(rv.drag.x0, e.x), right: Math.max(rv.drag.x0, e.x) });
  }

  function on_panend(e) {
    const d = rv.drag;
    if (!d) {
      if (rv.scoring) { snapToEpoch(); }
      return;
    }
    rv.drag = null;
    st.m.draft_box.visible = false;
    const dur = st.rec.duration_s;
    let a = Math.max(0, Math.min(d.x0, e.x));
    let b = Math.min(dur, Math.max(d.x0, e.x));
    if (b - a < W.spanS() / 300) { b = a; }  // a click-sized drag makes a point event
    a = +a.toFixed(4); b = +b.toFixed(4);
    const category = byId("ws-new-category").value;
    const label = byId("ws-new-label").value;
    if (!category || !label) { message("Choose the new event's category and label first.", "error"); return; }
    createEvent({
      onset_s: a, duration_s: +(b - a).toFixed(4), label, category,
      channels: d.channel === null ? [] : [d.channel],
    });
  }

  function fillNewEventMenus() {
    const catSel = byId("ws-new-category");
    const labSel = byId("ws-new-label");
    if (!catSel || !labSel) { return; }
    const labels = st.cfg.labels || {};
    catSel.textContent = "";
    for (const c of Object.keys(labels)) {
      if (c === "sleep_stage") { continue; }  // stages are scored per epoch (S)
      const o = document.createElement("option");
      o.value = c; o.textContent = c;
      catSel.append(o);
    }
    const fillLabels = () => {
      labSel.textContent = "";
      for (const l of labels[catSel.value] || []) {
        const o = document.createElement("option");
        o.value = l.label; o.textContent = l.label; o.title = l.description || "";
        labSel.append(o);
      }
      if (!labSel.options.length && catSel.value === "other") {
        const o = document.createElement("option");
        o.value = "note"; o.textContent = "note";
        labSel.append(o);
      }
    };
    catSel.value = labels.artifact ? "artifact" : catSel.value;
    fillLabels();
    catSel.addEventListener("change", fillLabels);
  }

  // ------------------------------------------------------------------ sleep scoring

  function epochAt(t) { return Math.min(nEpochs() - 1, Math.max(0, Math.floor((t + 1e-6) / epochS()))); }
  function currentEpoch() { return epochAt(st.m.x_range.start); }

  function goEpoch(i) {
    const E = epochS();
    W.setRange(i * E, Math.min(st.rec.duration_s, (i + 1) * E));
  }

  function snapToEpoch() {
    const E = epochS();
    goEpoch(Math.min(nEpochs() - 1, Math.max(0, Math.round(st.m.x_range.start / E))));
  }

  function setScoring(on) {
    rv.scoring = on;
    const btn = byId("ws-scoring");
    if (btn) { btn.setAttribute("aria-pressed", on ? "true" : "false"); }
    if (on) {
      goEpoch(currentEpoch());
      showHypnogram(true);
      loadStages();
      loadStats();
      message("Sleep scoring: 0 W, 1 N1, 2 N2, 3 N3, 5 R, U unscorable; each key moves on one epoch.");
    }
    renderEpochInfo();
  }

  function showHypnogram(on) {
    rv.hypnogramShown = on;
    if (st.m && st.m.hypnogram) { st.m.hypnogram.visible = on; }
    const panel = byId("ws-stats-panel");
    if (panel) { panel.hidden = !on; }
  }

  function isOwn(e) {
    const me = st.cfg.user && st.cfg.user.name;
    if (e.status === "proposed" || e.status === "rejected") { return false; }
    return e.source === "human" ? e.created_by === me : e.updated_by === me;
  }

  function setStageEvent(e) {
    for (const slot of Object.values(rv.stages)) {
      if (slot.own && slot.own.event_id === e.event_id) { slot.own = null; }
      if (slot.prop && slot.prop.event_id === e.event_id) { slot.prop = null; }
    }
    addStage(e);
    drawHypnogram();
    renderEpochInfo();
  }

  function addStage(e) {
    const E = epochS();
    const i = Math.round(e.onset_s / E);
    if (Math.abs(e.onset_s - i * E) > 1e-3) { return; }
    const slot = rv.stages[i] || (rv.stages[i] = { own: null, prop: null });
    if (isOwn(e)) {
      if (!slot.own || e.updated_at >= slot.own.updated_at) { slot.own = e; }
    } else if (e.status === "proposed") {
      if (!slot.prop || (e.confidence || 0) > (slot.prop.confidence || 0)) { slot.prop = e; }
    }
  }

  function loadStages() {
    const q = "?category=sleep_stage&start_s=0&stop_s=" + st.rec.duration_s + "&limit=50000";
    return api("GET", recPath() + "/events" + q).then((body) => {
      rv.stages = {};
      for (const e of body.events) { addStage(e); }
      if (body.events.length && !rv.hypnogramShown) { showHypnogram(true); loadStats(); }
      drawHypnogram();
      renderEpochInfo();
    }).catch(reportError);
  }

  function stageOf(i) {
    if (rv.pending[i] !== undefined) { return rv.pending[i]; }
    const slot = rv.stages[i];
    return slot && slot.own ? slot.own.label : null;
  }

  function proposalOf(i) {
    const slot = rv.stages[i];
    return slot && slot.prop ? slot.prop : null;
  }

  function drawHypnogram() {
    if (!st.m || !st.m.hyp_own) { return; }
    const E = epochS();
    const own = { x: [], y: [] };
    const prop = { x: [], y: [] };
    const rem = { left: [], right: [] };
    const step = (d, i, label) => {
      const y = STAGE_Y[label];
      if (y === undefined) {
        if (d.x.length && !Number.isNaN(d.y[d.y.length - 1])) { d.x.push(i * E); d.y.push(NaN); }
        return;
      }
      d.x.push(i * E, (i + 1) * E);
      d.y.push(y, y);
    };
    const n = nEpochs();
    for (let i = 0; i < n; i++) {
      const s = stageOf(i);
      step(own, i, s);
      if (s === "R") { rem.left.push(i * E); rem.right.push((i + 1) * E); }
      const p = proposalOf(i);
      step(prop, i, p ? p.label : null);
    }
    st.m.hyp_own.data = own;
    st.m.hyp_prop.data = prop;
    st.m.hyp_rem.data = rem;
  }

  function renderEpochInfo() {
    const el = byId("ws-epoch-info");
    if (!el || !st.m) { return; }
    if (!rv.scoring) { el.textContent = ""; return; }
    const i = currentEpoch();
    const s = stageOf(i);
    const p = proposalOf(i);
    el.textContent = "epoch " + (i + 1) + " / " + nEpochs() + " (" + W.formatClock(i * epochS(), false) +
      ") · you: " + (s || "—") + (p ? " · proposal: " + p.label +
      (p.confidence !== null ? " (" + p.confidence.toFixed(2) + ")" : "") : "");
  }

  function scoreEpoch(stage) {
    if (!requireAnnotate()) { return null; }
    const i = currentEpoch();
    rv.pending[i] = stage;
    drawHypnogram();
    if (i + 1 < nEpochs()) { goEpoch(i + 1); } else { message("Last epoch scored."); }
    renderEpochInfo();
    return enqueue(() => api("PUT", recPath() + "/epochs/" + i, { stage }).then((ev) => {
      delete rv.pending[i];
      applyEvent(ev);
      scheduleStats();
      return ev;
    }, (err) => {
      delete rv.pending[i];
      drawHypnogram();
      renderEpochInfo();
      throw err;
    }));
  }

  function scheduleStats() {
    clearTimeout(rv.statsTimer);
    rv.statsTimer = setTimeout(() => { idle().then(loadStats); }, STATS_DELAY_MS);
  }

  function loadStats() {
    return api("GET", recPath() + "/sleep-stats").then((s) => {
      rv.stats = s;
      renderStats();
    }).catch(reportError);
  }

  function renderStats() {
    const el = byId("ws-stats");
    const s = rv.stats;
    if (!el || !s) { return; }
    const min = (v) => (v === null || v === undefined ? "—" : v.toFixed(1) + " min");
    const pct = (v) => (v === null || v === undefined ? "—" : v.toFixed(1) + " %");
    const rows = [
      ["epochs scored", String(s.n_epochs_scored) + " × " + s.epoch_s + " s"],
      ["time in bed", min(s.tib_min)],
      ["total sleep time", min(s.tst_min)],
      ["sleep efficiency", pct(s.sleep_efficiency_pct)],
      ["sleep onset latency", min(s.sol_min)],
      ["REM latency", min(s.rem_latency_min)],
      ["WASO", min(s.waso_min)],
      ["awakenings", String(s.n_awakenings)],
      ["unscored in sleep period", min(s.unscored_in_sleep_period_min)],
    ];
    for (const stage of ["W", "N1", "N2", "N3", "R"]) {
      const p = s.stage_pct_of_tst[stage];
      rows.push([stage, min(s.stage_min[stage] || 0) +
        (stage !== "W" ? " · " + pct(p === undefined ? null : p) : "")]);
    }
    el.className = "";
    el.textContent = "";
    const table = document.createElement("table");
    for (const [k, v] of rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = k;
      const a = document.createElement("td"); a.textContent = k;
      const b = document.createElement("td"); b.textContent = v;
      tr.append(a, b);
      table.append(tr);
    }
    el.append(table);
  }

  function onHypnogramTap(x) {
    if (rv.scoring) { goEpoch(epochAt(x)); return; }
    const len = W.spanS();
    W.setRange(x - len / 2, x + len / 2);
  }

  // ------------------------------------------------------------------ viewer hooks

  function onKey(ev) {
    const k = ev.key;
    if (k === "Shift") { setShift(true); return false; }
    if (ev.ctrlKey || ev.metaKey) {
      const low = k.toLowerCase();
      if (low === "z") { undoRedo(ev.shiftKey ? "redo" : "undo"); return true; }
      if (low === "y") { undoRedo("redo"); return true; }
      return false;
    }
    if (ev.altKey) { return false; }
    if (rv.scoring) {
      if (STAGE_KEYS[k] !== undefined) { scoreEpoch(STAGE_KEYS[k]); return true; }
      if (k === "4") {
        message("4 is not a stage under AASM (R&K stages 3 and 4 are N3: press 3; R is 5).", "error");
        return true;
      }
      if (k === "PageDown" || k === "ArrowRight") {
        goEpoch(Math.min(nEpochs() - 1, currentEpoch() + 1));
        return true;
      }
      if (k === "PageUp" || k === "ArrowLeft") { goEpoch(Math.max(0, currentEpoch() - 1)); return true; }
    }
    switch (k.length === 1 ? k.toLowerCase() : k) {
      case "n": enqueue(() => stepQueue(ev.shiftKey ? -1 : 1, false)); return true;
      case "j": enqueue(() => stepQueue(1, false)); return true;
      case "k": enqueue(() => stepQueue(-1, false)); return true;
      case "Enter": decide("confirm"); return true;
      case "x": decide("reject"); return true;
      case "Delete": decide(ev.shiftKey ? "delete" : "reject"); return true;
      case "Backspace": decide("reject"); return true;
      case "l": openPicker(); return true;
      case "s": setScoring(!rv.scoring); return true;
      case "Escape": select(null, false); return true;
      default: return false;
    }
  }

  function onRangeChange() {
    if (!st.m) { return; }
    if (st.m.hyp_cursor) {
      st.m.hyp_cursor.setv({ left: st.m.x_range.start, right: st.m.x_range.end });
    }
    renderEpochInfo();
  }

  function onLanesChanged() { drawOverlays(); }

  function onAttach() {
    fillNewEventMenus();
    renderQueueInfo();
    const blurAfter = (el, fn) => el && el.addEventListener("click", () => { el.blur(); fn(); });
    blurAfter(byId("ws-scoring"), () => setScoring(!rv.scoring));
    blurAfter(byId("ws-queue-next"), () => enqueue(() => stepQueue(1, false)));
    blurAfter(byId("ws-queue-prev"), () => enqueue(() => stepQueue(-1, false)));
    for (const id of ["ws-auto-advance", "ws-new-all"]) {  // keep the keys for the viewer
      const box = byId(id);
      if (box) { box.addEventListener("change", () => box.blur()); }
    }
    const rej = byId("ws-show-rejected");
    if (rej) { rej.addEventListener("change", () => { rej.blur(); loadOverlaysForView(true); }); }
    const filter = byId("ws-picker-filter");
    if (filter) {
      filter.addEventListener("keydown", onPickerKey);
      filter.addEventListener("input", () => { if (rv.picker) { rv.picker.active = 0; renderPicker(); } });
      filter.addEventListener("blur", () => { if (rv.picker) { setTimeout(() => rv.picker && closePicker(null), 150); } });
    }
    document.addEventListener("keyup", (e) => { if (e.key === "Shift") { setShift(false); } });
    window.addEventListener("blur", () => setShift(false));
    loadStages();
  }

  W.review = {
    onAttach, onRangeChange, onWindowDrawn, onLanesChanged, onKey,
    on_tap, on_panstart, on_pan, on_panend, onHypnogramTap,
    setScoring, scoreEpoch, decide, relabel, undoRedo, createEvent, stepQueue, loadStats,
    loadOverlays: loadOverlaysForView, stageOf, idle, state: rv,
  };
})();
