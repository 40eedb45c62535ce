/* The watch page: quality choice, practice controls (speed, A–B loop, frame step, keys), and
 * live processing progress that starts the player as soon as the first rendition exists. */
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
  // The API does not report a frame rate; 1/30 s steps land on every frame up to 30 fps.
  const FRAME = 1 / 30;
  const SPEEDS = Array.from(speed.options).map((o) => Number(o.value));
  const loop = { a: null, b: null, on: false };

  /* --- quality: swap the source, keep the place, the speed and play/pause ------------------ */
  function switchTo(url) {
    const at = video.currentTime;
    const wasPaused = video.paused;
    const rate = video.playbackRate;
    video.src = url;
    video.addEventListener("loadedmetadata", function restore() {
      video.removeEventListener("loadedmetadata", restore);
      video.currentTime = at;
      video.playbackRate = rate;
      if (!wasPaused) video.play().catch(() => null);
    });
  }
  quality.addEventListener("change", () => {
    const option = quality.selectedOptions[0];
    localStorage.setItem("practika.quality", option.value);
    switchTo(option.dataset.url);
  });
  // The server chooses the rendition a player starts with (the option it marks selected); a
  // quality the viewer chose before wins when this video has it.
  function preferred() {
    const label = localStorage.getItem("practika.quality");
    return Array.from(quality.options).find((o) => o.value === label && o.dataset.url);
  }
  const mine = preferred();
  if (mine && !mine.selected) { mine.selected = true; video.src = mine.dataset.url; }

  /* --- speed ------------------------------------------------------------------------------ */
  function setSpeed(rate) {
    video.playbackRate = rate;
    video.defaultPlaybackRate = rate;
    speed.value = String(rate);
  }
  speed.addEventListener("change", () => setSpeed(Number(speed.value)));
  // A new source resets the rate in some browsers: keep the chosen one.
  video.addEventListener("loadedmetadata", () => { video.playbackRate = Number(speed.value); });

  /* --- A–B loop ---------------------------------------------------------------------------- */
  function showLoop() {
    const ready = loop.a !== null && loop.b !== null && loop.b > loop.a;
    toggle.disabled = !ready;
    if (!ready) loop.on = false;
    toggle.setAttribute("aria-pressed", String(loop.on));
    if (loop.a === null && loop.b === null) info.textContent = "No loop";
    else info.textContent = (loop.on ? "Looping " : "Loop ") + P.clock(loop.a ?? 0) + " – " + (loop.b === null ? "…" : P.clock(loop.b));
  }
  function setA() {
    loop.a = video.currentTime;
    if (loop.b !== null && loop.b <= loop.a) loop.b = null;
    showLoop();
  }
  function setB() {
    const t = video.currentTime;
    if (loop.a === null || t <= loop.a) { info.textContent = "Set A before B, then B later in the video."; return; }
    loop.b = t;
    loop.on = true;
    showLoop();
  }
  function toggleLoop() {
    if (toggle.disabled) return;
    loop.on = !loop.on;
    showLoop();
  }
  // Checked every frame while playing: timeupdate alone fires only ~4 times a second.
  function guard() {
    if (loop.on && video.currentTime >= loop.b) video.currentTime = loop.a;
    if (!video.paused) requestAnimationFrame(guard);
  }
  video.addEventListener("play", () => requestAnimationFrame(guard));
  video.addEventListener("timeupdate", () => { if (loop.on && video.currentTime >= loop.b) video.currentTime = loop.a; });
  document.getElementById("loop-a").addEventListener("click", setA);
  document.getElementById("loop-b").addEventListener("click", setB);
  toggle.addEventListener("click", toggleLoop);

  /* --- frame step --------------------------------------------------------------------------- */
  function step(frames) {
    video.pause();
    const end = isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(end, Math.max(0, video.currentTime + frames * FRAME));
  }
  document.getElementById("frame-prev").addEventListener("click", () => step(-1));
  document.getElementById("frame-next").addEventListener("click", () => step(1));

  /* --- keyboard ----------------------------------------------------------------------------- */
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.target.isContentEditable) return;
    // Space on a focused button presses it; leave buttons and links their own keys.
    if ((e.key === " " || e.key === "Enter") && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return;
    const nudge = (d) => { video.currentTime = Math.max(0, video.currentTime + d); };
    const faster = (dir) => {
      const i = SPEEDS.indexOf(Number(speed.value));
      setSpeed(SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, i + dir))]);
    };
    const actions = {
      " ": () => (video.paused ? video.play() : video.pause()),
      k: () => (video.paused ? video.play() : video.pause()),
      ArrowLeft: () => nudge(-5),
      ArrowRight: () => nudge(5),
      ",": () => step(-1),
      ".": () => step(1),
      "[": setA,
      "]": setB,
      "\\": toggleLoop,
      "-": () => faster(-1),
      "=": () => faster(1),
      "+": () => faster(1),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  });

  /* --- copy link (unlisted videos) ------------------------------------------------------------ */
  const copy = document.getElementById("copy-link");
  if (copy) {
    copy.addEventListener("click", async () => {
      const field = document.getElementById("share-link");
      try { await navigator.clipboard.writeText(field.value); }
      catch (e) { field.select(); document.execCommand("copy"); }
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy link"; }, 2000);
    });
  }

  /* --- processing: progress, and the player starts with the first rendition ------------------ */
  // New renditions are listed, and the one to start with chosen, by the server's own page: it is
  // fetched again and its quality options replace these (nothing is chosen twice).
  async function refreshQualities(thumbnail) {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("quality");
    if (!fresh) return;
    const current = quality.value;
    quality.replaceChildren(...Array.from(fresh.options).map((o) => document.importNode(o, true)));
    quality.disabled = fresh.disabled;
    if (video.currentSrc) { quality.value = current; return; }
    const chosen = preferred() || quality.selectedOptions[0];
    if (!chosen || !chosen.dataset.url) return;
    chosen.selected = true;
    if (thumbnail) video.poster = thumbnail;
    video.src = chosen.dataset.url;
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
      const known = Array.from(quality.options).filter((o) => o.dataset.url).length;
      if (v.renditions.length > known && !refreshing) {
        refreshing = refreshQualities(v.thumbnail_url).catch(() => null).finally(() => { refreshing = null; });
      }
      if (v.status === "ready") box.hidden = true;
      // A failure is best shown by the server's page: the reason and the reprocess button. A
      // failed reprocess ends ready (the earlier version plays) with its reason in `error`.
      if (v.status === "failed" || (v.status === "ready" && v.error)) location.reload();
    });
  }
  showLoop();
})();
