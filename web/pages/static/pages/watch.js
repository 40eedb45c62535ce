/* The watch page: the player (player.js) with its quality choice and practice controls (speed,
 * A–B loop, frame step, keys), and live processing progress that starts the player as soon as
 * there is something to play: the first rendition, or the HLS stream that grows while the video
 * is made (the page switches to it without a reload). */
(function () {
  "use strict";
  const P = window.Practika;
  const video = document.getElementById("player");
  if (!video) return;
  const state = JSON.parse(document.getElementById("video-state").textContent);
  const quality = document.getElementById("quality");
  const speed = document.getElementById("speed");
  const info = document.getElementById("loop-info");
  const toggle = document.getElementById("loop-toggle");
  const SPEEDS = Array.from(speed.options).map((o) => Number(o.value));
  // The probe's frame rate (null until the video is ready: the player assumes 30 fps until then).
  const player = P.player(video, { fps: state.fps });

  /* --- quality ---------------------------------------------------------------------------- */
  // The renditions as the server lists them, marking the one a player starts with; a quality the
  // viewer chose before wins when this video has it.
  function renditions(select) {
    return Array.from(select.options).filter((o) => o.dataset.url)
      .map((o) => ({ label: o.value, url: o.dataset.url, selected: o.selected }));
  }
  function showQualities() {
    const choices = player.qualities();
    const options = Array.from(quality.options);
    // The same choices (hls.js switched level): relabel in place, so an open menu stays open.
    if (choices.length && choices.map((c) => c.value).join() === options.map((o) => o.value).join()) {
      choices.forEach((c, i) => { options[i].text = c.label; options[i].selected = c.current; });
    } else {
      quality.replaceChildren(...choices.map((c) => new Option(c.label, c.value, c.current, c.current)));
    }
    if (!choices.length) quality.add(new Option("not ready yet"));
    quality.disabled = !choices.length;
  }
  quality.addEventListener("change", () => {
    localStorage.setItem("practika.quality", quality.value);
    player.setQuality(quality.value);
  });

  /* --- speed ------------------------------------------------------------------------------ */
  function setSpeed(rate) {
    player.speed(rate);
    speed.value = String(rate);
  }
  speed.addEventListener("change", () => setSpeed(Number(speed.value)));

  /* --- A–B loop ---------------------------------------------------------------------------- */
  function showLoop() {
    const loop = player.loop;
    toggle.disabled = loop.a === null || loop.b === null;
    toggle.setAttribute("aria-pressed", String(loop.on));
    if (loop.a === null && loop.b === null) info.textContent = "No loop";
    else info.textContent = (loop.on ? "Looping " : "Loop ") + P.clock(loop.a ?? 0) + " – " + (loop.b === null ? "…" : P.clock(loop.b));
  }
  function setB() {
    if (!player.setB()) info.textContent = "Set A before B, then B later in the video.";
  }
  document.getElementById("loop-a").addEventListener("click", () => player.setA());
  document.getElementById("loop-b").addEventListener("click", setB);
  toggle.addEventListener("click", () => player.toggleLoop());

  /* --- frame step --------------------------------------------------------------------------- */
  document.getElementById("frame-prev").addEventListener("click", () => player.step(-1));
  document.getElementById("frame-next").addEventListener("click", () => player.step(1));

  /* --- time and frame, mirror, links to a moment ------------------------------------------------ */
  const clock = document.getElementById("clock");
  function showClock() {
    const at = player.position();
    clock.textContent = P.clock(at.time) + " · frame " + at.frame;
  }
  ["timeupdate", "seeked", "loadedmetadata"].forEach((type) => video.addEventListener(type, showClock));
  player.on("frame", showClock);
  const mirror = document.getElementById("mirror");
  mirror.addEventListener("click", () => player.mirror());
  // ?t=12.5 opens the player there; ?a=..&b=.. with the loop between them on.
  const asked = new URLSearchParams(location.search);
  const seconds = (name) => (asked.has(name) && isFinite(Number(asked.get(name))) ? Number(asked.get(name)) : null);
  const [t, a, b] = ["t", "a", "b"].map(seconds);
  if (t !== null || a !== null) {
    video.addEventListener("loadedmetadata", function start() {
      video.removeEventListener("loadedmetadata", start);
      if (a !== null && b !== null && b > a) { player.setA(a); player.setB(b); }
      player.seek(t !== null ? t : a);
    });
  }
  function momentUrl() {
    const url = new URL(location.pathname, location.origin);
    const loop = player.loop;
    const round = (x) => String(Math.round(x * 1000) / 1000);
    if (loop.a !== null && loop.b !== null) { url.searchParams.set("a", round(loop.a)); url.searchParams.set("b", round(loop.b)); }
    else url.searchParams.set("t", round(video.currentTime));
    return url.href;
  }
  const link = document.getElementById("moment-link");
  link.addEventListener("click", async () => {
    const url = momentUrl();
    history.replaceState(null, "", url);
    try { await navigator.clipboard.writeText(url); link.textContent = "Link copied"; }
    catch (e) { link.textContent = "Link in the address bar"; }
    setTimeout(() => { link.textContent = "Copy link here"; }, 2000);
  });

  /* --- saved loops (signed in): the viewer's own, kept on the server ----------------------------- */
  const saved = document.getElementById("saved-loops");
  if (saved) {
    const list = document.getElementById("loop-list");
    const status = document.getElementById("loop-save-info");
    const render = (loops) => list.replaceChildren(...loops.map((l) => {
      const item = document.createElement("li");
      const use = document.createElement("button");
      use.type = "button";
      use.className = "secondary small";
      use.textContent = l.name + " (" + P.clock(l.a) + " – " + P.clock(l.b) + ")";
      use.setAttribute("aria-label", "Loop " + l.name);
      use.addEventListener("click", () => { player.setA(l.a); player.setB(l.b); player.seek(l.a); });
      const drop = document.createElement("button");
      drop.type = "button";
      drop.className = "secondary small";
      drop.textContent = "Delete";
      drop.setAttribute("aria-label", "Delete loop " + l.name);
      drop.addEventListener("click", () => P.api(saved.dataset.url + l.id + "/", { method: "DELETE" }).then(load));
      item.append(use, drop);
      return item;
    }));
    const load = () => P.api(saved.dataset.url + "?page_size=100").then((page) => render(page.results));
    document.getElementById("loop-save").addEventListener("submit", async (e) => {
      e.preventDefault();
      const loop = player.loop;
      const name = document.getElementById("loop-name");
      if (loop.a === null || loop.b === null) { status.textContent = "Set A and B first, then save the loop."; return; }
      try {
        await P.api(saved.dataset.url, { method: "POST", json: { name: name.value, a: loop.a, b: loop.b } });
        status.textContent = "Saved “" + name.value + "”.";
        name.value = "";
        load();
      } catch (err) { status.textContent = err.message; }
    });
    load().catch(() => null);
  }

  /* --- keyboard ----------------------------------------------------------------------------- */
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.target.isContentEditable) return;
    // Space on a focused button presses it; leave buttons and links their own keys.
    if ((e.key === " " || e.key === "Enter") && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return;
    const faster = (dir) => {
      const i = SPEEDS.indexOf(Number(speed.value));
      setSpeed(SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, i + dir))]);
    };
    const actions = {
      " ": player.toggle,
      k: player.toggle,
      ArrowLeft: () => player.seek(video.currentTime - 5),
      ArrowRight: () => player.seek(video.currentTime + 5),
      ",": () => player.step(-1),
      ".": () => player.step(1),
      "[": () => player.setA(),
      "]": setB,
      "\\": () => player.toggleLoop(),
      "-": () => faster(-1),
      "=": () => faster(1),
      "+": () => faster(1),
      m: () => player.mirror(),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  });

  /* --- processing: progress, and the player starts with what there is to play ---------------- */
  // New renditions are listed, and the one to start with chosen, by the server's own page: it is
  // fetched again and its quality options handed to the player (nothing is chosen twice).
  let known = 0;
  async function refreshRenditions() {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("quality");
    if (!fresh) return;
    const list = renditions(fresh);
    known = list.length;
    player.sources({ renditions: list });
  }
  if (state.status !== "ready" && state.status !== "failed") {
    const box = document.getElementById("processing");
    let refreshing = null;
    P.watchVideo(state.id, (v) => {
      if (!v) return;
      box.querySelector("[data-role=status]").textContent = v.status;
      box.querySelector("[data-role=status]").className = "badge " + v.status;
      box.querySelector("[data-role=progress-text]").textContent = v.status === "processing" ? v.progress + " %" : "";
      box.querySelector("progress").value = v.progress || 0;
      if (v.thumbnail_url && !video.poster) video.poster = v.thumbnail_url;
      // The stream that grows while the video is made: the player switches to it where it is.
      if (v.hls_url && !state.hls_url) {
        state.hls_url = v.hls_url;
        player.sources({ hls: v.hls_url });
      }
      if (v.renditions.length > known && !refreshing) {
        refreshing = refreshRenditions().catch(() => null).finally(() => { refreshing = null; });
      }
      if (v.status === "ready") box.hidden = true;
      // A failure is best shown by the server's page: the reason and the reprocess button. A
      // failed reprocess ends ready (the earlier version plays) with its reason in `error`.
      if (v.status === "failed" || (v.status === "ready" && v.error)) location.reload();
    });
  }

  player.on("change", () => { showQualities(); showLoop(); mirror.setAttribute("aria-pressed", String(player.mirrored)); });
  const first = renditions(quality);
  known = first.length;
  player.sources({ hls: state.hls_url, renditions: first, preferred: localStorage.getItem("practika.quality") });
  showQualities();
  showLoop();
})();
