/* The compare page: two players (player.js) under one set of controls. Both follow one shared
 * clock: video A plays at the chosen speed and B is trimmed to it every frame — a little faster
 * or slower while it is within half a second, a jump when it is further off (a stall) — so the
 * two stay within a frame of each other. Each video's offset is where its shared start lies
 * ("A starts at 1.2 s"); the offsets live in the URL (oa, ob), so a link shows the two lined up. */
(function () {
  "use strict";
  const P = window.Practika;
  if (!document.getElementById("compare")) return;
  const $ = (id) => document.getElementById(id);
  const sides = ["a", "b"].map((key) => {
    const video = $("video-" + key);
    const state = JSON.parse($(key + "-state").textContent);
    const player = P.player(video, { fps: state.fps });
    player.sources({ hls: state.hls_url, renditions: state.renditions });
    return { key, video, state, player, offset: state.offset, input: $("offset-" + key) };
  });
  const [A, B] = sides;
  const speed = $("speed");
  const SPEEDS = Array.from(speed.options).map((o) => Number(o.value));
  // The shorter frame of the two, so a step shows every frame of both.
  const frame = Math.min(...sides.map((s) => 1 / (s.state.fps || 30)));
  // B plays at A's speed until it is half a frame off; then it is trimmed, in steps of TRIM, at most
  // MAX_TRIM, until it has caught up. Each change of its rate makes Chromium's audio renderer catch
  // a breath (B stalls for a moment, muted or not), so it changes as seldom as that allows. Further
  // than FAR (a stall) it jumps.
  const TRIM = 0.02;
  const GAIN = 2; // of the drift per second: half a second to catch up
  const MAX_TRIM = 0.2;
  const FAR = 0.5;
  let trimming = 0; // the sign of the drift being caught up, 0 when B plays at A's speed
  const loop = { a: null, b: null, on: false };
  let rate = 1;

  const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
  const length = (s) => (isFinite(s.video.duration) ? s.video.duration : s.state.duration || 0);
  const end = () => Math.max(0, Math.min(...sides.map((s) => length(s) - s.offset)));
  const now = () => A.video.currentTime - A.offset;
  const playing = () => !A.video.paused;

  function seek(t) {
    t = clamp(t, 0, end());
    sides.forEach((s) => s.player.seek(t + s.offset));
    show();
  }
  function pause() { sides.forEach((s) => s.video.pause()); }
  // Both at their places with something to play, before either starts: a head start is drift.
  const ready = (s) => new Promise((resolve) => {
    const check = () => {
      if (s.video.seeking || s.video.readyState < 3) return;
      ["seeked", "canplay"].forEach((type) => s.video.removeEventListener(type, check));
      resolve();
    };
    ["seeked", "canplay"].forEach((type) => s.video.addEventListener(type, check));
    check();
  });
  async function play() {
    seek(now() >= end() - frame ? (loop.on ? loop.a : 0) : now());
    await Promise.all(sides.map(ready));
    sides.forEach((s) => s.video.play().catch(() => null));
  }
  const toggle = () => (playing() ? pause() : play());

  function trim(by) {
    const wanted = rate * (1 - by);
    if (B.video.playbackRate !== wanted) B.video.playbackRate = wanted;
  }
  // Every frame while playing: B follows A, the loop and the shared end hold.
  function follow() {
    if (!playing()) return;
    const t = now();
    if (loop.on && t >= loop.b) seek(loop.a);
    else if (t >= end()) { pause(); seek(end()); }
    else {
      const drift = B.video.currentTime - B.offset - t;
      if (Math.abs(drift) > FAR) B.video.currentTime = t + B.offset;
      else {
        if (Math.abs(drift) > frame / 2) trimming = Math.sign(drift);
        else if (Math.sign(drift) !== trimming) trimming = 0; // caught up
        trim(trimming && trimming * Math.min(MAX_TRIM, Math.ceil(Math.abs(drift) * GAIN / TRIM) * TRIM));
      }
      if (B.video.paused && !B.video.ended) B.video.play().catch(() => null);
    }
    show();
    requestAnimationFrame(follow);
  }
  A.video.addEventListener("play", () => requestAnimationFrame(follow));
  A.video.addEventListener("pause", () => { B.video.pause(); B.video.playbackRate = rate; show(); });

  function setSpeed(value) {
    rate = value;
    sides.forEach((s) => s.player.speed(value));
    speed.value = String(value);
  }
  speed.addEventListener("change", () => setSpeed(Number(speed.value)));

  function step(frames) {
    pause();
    // From the frame A shows, to the middle of the frame `frames` away, on the shorter frame's grid.
    const here = Math.floor(now() / frame + 1e-6);
    seek((here + frames + 0.5) * frame);
  }

  /* --- offsets ------------------------------------------------------------------------------ */
  function setOffset(side, seconds) {
    const t = now();
    side.offset = Math.max(0, Math.round(seconds * 1000) / 1000);
    side.input.value = String(side.offset);
    if (side === A) A.video.currentTime = clamp(t + A.offset, 0, length(A));
    else B.video.currentTime = clamp(t + B.offset, 0, length(B));
    remember();
    show();
  }
  function remember() {
    const url = new URL(location.href);
    sides.forEach((s) => {
      if (s.offset) url.searchParams.set("o" + s.key, String(s.offset));
      else url.searchParams.delete("o" + s.key);
    });
    history.replaceState(null, "", url);
  }
  document.querySelectorAll("[data-nudge]").forEach((button) => {
    const side = button.dataset.side === "a" ? A : B;
    const by = button.dataset.nudge;
    const own = 1 / (side.state.fps || 30);
    button.addEventListener("click", () => {
      pause();
      setOffset(side, side.offset + (by === "frame" ? own : by === "-frame" ? -own : Number(by)));
    });
  });
  sides.forEach((s) => s.input.addEventListener("change", () => {
    const value = Number(s.input.value);
    setOffset(s, isFinite(value) ? value : 0);
  }));
  // The frames on screen are the same moment: each one's place becomes its start.
  $("sync").addEventListener("click", () => {
    pause();
    sides.forEach((s) => { s.offset = Math.round(s.video.currentTime * 1000) / 1000; s.input.value = String(s.offset); });
    remember();
    seek(0);
  });
  document.querySelectorAll("[data-mirror]").forEach((button) => {
    const side = button.dataset.side === "a" ? A : B;
    button.addEventListener("click", () => side.player.mirror());
    side.player.on("change", () => button.setAttribute("aria-pressed", String(side.player.mirrored)));
  });
  $("sound").addEventListener("change", (e) => sides.forEach((s) => { s.video.muted = e.target.value !== s.key; }));

  /* --- loop --------------------------------------------------------------------------------- */
  function setA() {
    loop.a = now();
    if (loop.b !== null && loop.b <= loop.a) { loop.b = null; loop.on = false; }
    show();
  }
  function setB() {
    if (loop.a === null || now() <= loop.a) { $("loop-info").textContent = "Set A before B, then B later."; return; }
    loop.b = now();
    loop.on = true;
    show();
  }
  function toggleLoop() {
    if (loop.a === null || loop.b === null) return;
    loop.on = !loop.on;
    show();
  }
  $("loop-a").addEventListener("click", setA);
  $("loop-b").addEventListener("click", setB);
  $("loop-toggle").addEventListener("click", toggleLoop);

  /* --- what the controls show ----------------------------------------------------------------- */
  const seekBar = $("seek");
  function show() {
    const t = Math.max(0, now());
    seekBar.max = String(end());
    if (document.activeElement !== seekBar || !playing()) seekBar.value = String(t);
    const frames = sides.map((s) => s.key.toUpperCase() + " frame " + s.player.position().frame).join(" · ");
    $("clock").textContent = P.clock(t) + " / " + P.clock(end()) + " · " + frames;
    $("play").textContent = playing() ? "Pause" : "Play";
    $("play").setAttribute("aria-label", playing() ? "Pause both" : "Play both");
    const toggleButton = $("loop-toggle");
    toggleButton.disabled = loop.a === null || loop.b === null;
    toggleButton.setAttribute("aria-pressed", String(loop.on));
    const info = $("loop-info");
    if (loop.a === null) info.textContent = "No loop";
    else info.textContent = (loop.on ? "Looping " : "Loop ") + P.clock(loop.a) + " – " + (loop.b === null ? "…" : P.clock(loop.b));
  }
  seekBar.addEventListener("input", () => seek(Number(seekBar.value)));
  $("play").addEventListener("click", toggle);
  $("frame-prev").addEventListener("click", () => step(-1));
  $("frame-next").addEventListener("click", () => step(1));
  sides.forEach((s) => {
    s.video.addEventListener("loadedmetadata", show);
    s.video.addEventListener("seeked", show);
  });
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); $("copy-link").textContent = "Copied"; }
    catch (e) { $("copy-link").textContent = "Copy the address bar"; }
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 2000);
  });

  /* --- keyboard ------------------------------------------------------------------------------ */
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.target.isContentEditable) return;
    if ((e.key === " " || e.key === "Enter") && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return;
    const faster = (dir) => setSpeed(SPEEDS[clamp(SPEEDS.indexOf(rate) + dir, 0, SPEEDS.length - 1)]);
    const actions = {
      " ": toggle, k: toggle,
      ArrowLeft: () => seek(now() - 5), ArrowRight: () => seek(now() + 5),
      ",": () => step(-1), ".": () => step(1),
      "[": setA, "]": setB, "\\": toggleLoop,
      "-": () => faster(-1), "=": () => faster(1), "+": () => faster(1),
      m: () => A.player.mirror(),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  });

  // A shared link opens lined up: each video at its offset.
  sides.forEach((s) => s.video.addEventListener("loadedmetadata", function start() {
    s.video.removeEventListener("loadedmetadata", start);
    if (s.offset && !s.video.currentTime) s.video.currentTime = Math.min(s.offset, length(s));
  }));
  show();
})();
