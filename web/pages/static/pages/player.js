/* The player: one <video> and whatever it plays — an HLS master playlist (through hls.js, or the
 * browser's own HLS where hls.js cannot run, i.e. iOS Safari) or MP4 renditions — with the
 * practice actions (speed, A–B loop, frame step, quality) the same whatever the source. Pages
 * drive it through this object and listen for its "change" event; none of them touches hls.js.
 *
 *   const player = Practika.player(videoElement, { fps: video.fps });
 *   player.sources({ hls: masterUrl or null, renditions: [{label, url, selected}], preferred });
 *   player.goTo(at, until);               // a comment's moment or range (see "moments")
 *   Practika.playerOf(videoElement);      // the player another script made for that <video>
 */
(function () {
  "use strict";
  const AUTO = "auto";

  // A level is named like a rendition, by its shorter side.
  function levelLabel(level) {
    if (!level.height) return Math.round(level.bitrate / 1000) + " kb/s";
    return Math.min(level.width || level.height, level.height) + "p";
  }

  function player(video, options) {
    const events = new EventTarget();
    const loop = { a: null, b: null, on: false };
    let hls = null; // the hls.js instance while it plays
    let hlsUrl = null;
    let hlsFailed = false; // after a fatal HLS error the MP4 renditions play, for good
    let renditions = [];
    let playing = null; // the label of the MP4 rendition that plays
    let wanted = AUTO; // the viewer's choice: "auto" or a label
    let rate = 1;

    const changed = () => events.dispatchEvent(new Event("change"));
    const kind = () => video.dataset.source || "";
    function setKind(value) {
      if (value) video.dataset.source = value;
      else delete video.dataset.source;
      changed();
    }

    /* --- sources --------------------------------------------------------------------------- */
    function rendition() {
      const chosen = renditions.find((r) => r.label === wanted) || renditions.find((r) => r.selected);
      return chosen || renditions[renditions.length - 1];
    }

    // A new source keeps the place, the speed and play/pause.
    function replace(start) {
      const at = video.currentTime;
      const wasPlaying = !video.paused;
      if (hls) { hls.destroy(); hls = null; }
      start(at);
      video.addEventListener("loadedmetadata", function restore() {
        video.removeEventListener("loadedmetadata", restore);
        if (!hls && at) video.currentTime = at; // hls.js starts at its startPosition itself
        if (wasPlaying) video.play().catch(() => null);
      });
    }

    function playHls(at) {
      if (window.Hls && Hls.isSupported()) {
        // startPosition: an EVENT playlist that still grows would otherwise start at its live edge.
        // No worker: the CSP allows no blob: workers.
        hls = new Hls({ startPosition: at, enableWorker: false });
        hls.on(Hls.Events.MANIFEST_PARSED, () => { if (wanted !== AUTO) setQuality(wanted); else changed(); });
        hls.on(Hls.Events.LEVEL_SWITCHED, changed);
        hls.on(Hls.Events.ERROR, (event, data) => { if (data.fatal) fallBack(); });
        hls.loadSource(hlsUrl);
        hls.attachMedia(video);
        setKind("hls");
      } else {
        video.src = hlsUrl;
        setKind("native-hls");
      }
    }

    function playMp4() {
      const r = rendition();
      if (!r) {
        if (video.hasAttribute("src")) { video.removeAttribute("src"); video.load(); }
        setKind("");
        return;
      }
      // The page's own <video src> may be this rendition already.
      if (video.getAttribute("src") !== r.url) video.src = r.url;
      playing = r.label;
      setKind("mp4");
    }

    function fallBack() {
      hlsFailed = true;
      replace(playMp4);
    }
    video.addEventListener("error", () => { if (kind() === "native-hls") fallBack(); });

    function hlsPlayable() {
      if (!hlsUrl || hlsFailed) return false;
      return (window.Hls && Hls.isSupported()) || video.canPlayType("application/vnd.apple.mpegurl") !== "";
    }

    /* What there is to play; called again as processing adds to it. HLS wins once it exists (the
     * switch keeps the place); MP4 renditions that arrive later only join the list. */
    function sources(given) {
      if (given.preferred) wanted = given.preferred;
      renditions = given.renditions || renditions;
      hlsUrl = given.hls || hlsUrl;
      const now = kind();
      if (hlsPlayable()) {
        if (now !== "hls" && now !== "native-hls") replace(playHls);
      } else if (now !== "mp4") {
        playMp4();
      } else {
        changed();
      }
    }

    /* --- quality --------------------------------------------------------------------------- */
    // [{value, label, current}]: "auto" and the levels on HLS, the renditions on MP4.
    function qualities() {
      if (kind() === "mp4") {
        return renditions.map((r) => ({ value: r.label, label: r.label, current: r.label === playing }));
      }
      if (kind() === "native-hls") return [{ value: AUTO, label: "Auto", current: true }];
      if (!hls) return [];
      const auto = hls.autoLevelEnabled;
      const level = hls.levels[hls.currentLevel];
      const automatic = { value: AUTO, label: level && auto ? "Auto (" + levelLabel(level) + ")" : "Auto", current: auto };
      return [automatic].concat(hls.levels.map((l, i) => {
        const name = levelLabel(l);
        return { value: name, label: name, current: !auto && i === hls.currentLevel };
      }));
    }

    function setQuality(value) {
      wanted = value;
      if (hls) {
        const index = hls.levels.findIndex((l) => levelLabel(l) === value);
        // A chosen level flushes the buffer and shows at once; auto changes at the next segment.
        if (index >= 0) hls.currentLevel = index;
        else hls.nextLevel = -1;
        changed();
      } else if (kind() === "mp4" && rendition().label !== playing) {
        replace(playMp4);
      }
    }

    /* --- practice: speed, seeking, frame step, A–B loop ---------------------------------------- */
    function speed(value) {
      rate = value;
      video.playbackRate = value;
      video.defaultPlaybackRate = value;
    }
    // A new source resets the rate in some browsers: keep the chosen one.
    video.addEventListener("loadedmetadata", () => { video.playbackRate = rate; });

    function go(t) {
      const end = isFinite(video.duration) ? video.duration : Infinity;
      video.currentTime = Math.min(end, Math.max(0, t));
    }
    function seek(t) {
      leaving = null;
      go(t);
    }
    /* One frame lasts 1/fps (the probe's rate, 30 when unknown) until the browser shows otherwise:
     * requestVideoFrameCallback reports each presented frame's own media time, so the frame on
     * screen is known exactly, and frames presented one after the other while playing (none
     * dropped between) give the rendition's real frame times — a variable-rate source's, or a
     * source's above the ladder's rate. Those are kept and stepped through; elsewhere the step
     * goes by the shortest frame seen, so it never skips one, and when it lands on the same frame
     * again (a longer one) it goes on until the next shows. */
    const given = 1 / ((options && options.fps) || 30);
    let frame = given;
    let shown = null; // the media time of the frame on screen
    let stepping = null; // a forward step under way: {from: the frame it left, to: the time asked}
    // A step until a frame on its side of the frame it left is presented: {from, dir}. A frame
    // presented before that was on its way before the step's seek (presses faster than frames
    // come), and must not stand for the frame on screen, or the next press counts from it.
    let leaving = null;
    video.addEventListener("play", () => { leaving = null; });
    const after = new Map(); // a frame's start (µs) -> the next one's, as played
    const before = new Map();
    const KNOWN = 200000; // frames remembered: an hour at 50 fps
    const key = (t) => Math.round(t * 1e6);
    const nextStart = (t) => after.get(key(t)) ?? t + frame;
    const prevStart = (t) => before.get(key(t)) ?? t - frame;
    if (video.requestVideoFrameCallback) {
      let last = null;
      let seeks = 0;
      video.addEventListener("seeking", () => { seeks++; });
      const dropped = () => (video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().droppedVideoFrames : 0);
      const presented = (now, meta) => {
        const next = { at: meta.mediaTime, count: meta.presentedFrames, seeks, dropped: dropped(), playing: !video.paused };
        const consecutive = last && last.playing && next.playing && last.seeks === seeks
          && next.count === last.count + 1 && next.dropped === last.dropped;
        // Not a hiccup at a segment's edge: a real frame is more than half the given one.
        if (consecutive && next.at - last.at > given / 2) {
          frame = Math.min(frame, next.at - last.at);
          if (after.size < KNOWN) { after.set(key(last.at), next.at); before.set(key(next.at), last.at); }
        }
        last = next;
        if (!leaving || (meta.mediaTime - leaving.from) * leaving.dir > 1e-6) {
          shown = meta.mediaTime;
          leaving = null;
        }
        // Each seek presents a frame, the same one too: a paused step's seek presents nothing else.
        if (stepping && meta.mediaTime === stepping.from && stepping.to + frame < video.duration) {
          go(stepping.to += frame);
        } else {
          stepping = null;
        }
        events.dispatchEvent(new Event("frame"));
        video.requestVideoFrameCallback(presented);
      };
      video.requestVideoFrameCallback(presented);
    }
    // The start of the frame on screen: the browser's word for it, else where the grid puts it.
    function frameStart() {
      const t = video.currentTime;
      if (shown !== null && shown <= t + 1e-6 && t < nextStart(shown) + frame) return shown;
      return Math.floor(t / frame + 1e-6) * frame;
    }
    function position() {
      return { time: video.currentTime, frame: Math.round(frameStart() / frame), fps: 1 / frame };
    }
    // To the middle of the frame `frames` away from the one on screen: a time on a frame's edge
    // may show its neighbour after rounding.
    function step(frames) {
      const paused = video.paused;
      const settled = leaving === null; // the last step's frame is on screen
      video.pause();
      const here = frameStart();
      let start = here;
      for (let i = 0; i < Math.abs(frames); i++) start = frames > 0 ? nextStart(start) : prevStart(start);
      const to = (start + nextStart(start)) / 2;
      stepping = settled && paused && frames > 0 && shown === here && !after.has(key(here)) ? { from: here, to } : null;
      leaving = { from: here, dir: Math.sign(frames) };
      shown = start; // until the browser presents it
      go(to);
    }
    const toggle = () => (video.paused ? video.play().catch(() => null) : video.pause());

    function setA(t) {
      loop.a = t === undefined ? video.currentTime : t;
      if (loop.b !== null && loop.b <= loop.a) { loop.b = null; loop.on = false; }
      changed();
    }
    // False when B would not come after A.
    function setB(t) {
      t = t === undefined ? video.currentTime : t;
      if (loop.a === null || t <= loop.a) return false;
      loop.b = t;
      loop.on = true;
      changed();
      return true;
    }
    function toggleLoop(on) {
      if (loop.a === null || loop.b === null) return;
      loop.on = on === undefined ? !loop.on : on;
      changed();
    }
    function guard() {
      if (loop.on && video.currentTime >= loop.b) video.currentTime = loop.a;
    }
    // Checked every frame while playing: timeupdate alone fires only ~4 times a second.
    function everyFrame() {
      guard();
      if (!video.paused) requestAnimationFrame(everyFrame);
    }
    video.addEventListener("play", () => requestAnimationFrame(everyFrame));
    video.addEventListener("timeupdate", guard);

    /* --- moments: comment markers jump here ------------------------------------------------- */
    /* Seeks to `at`. With the A–B loop on, a range (`until` after `at`) becomes the loop; a single
     * moment turns the loop off, which would otherwise pull the playhead back to A. */
    function goTo(at, until) {
      if (loop.on) {
        if (until !== null && until !== undefined && until > at) Object.assign(loop, { a: at, b: until });
        else loop.on = false;
      }
      seek(at);
      changed();
    }

    // For dancers and anyone copying a teacher facing them: the picture only, the file is as it was.
    function mirror(on) {
      video.classList.toggle("mirrored", on);
      changed();
    }

    const api = {
      video,
      get kind() { return kind(); },
      get loop() { return Object.assign({}, loop); },
      get mirrored() { return video.classList.contains("mirrored"); },
      on: (type, fn) => events.addEventListener(type, fn),
      sources, qualities, setQuality, speed, seek, step, position, toggle, setA, setB, toggleLoop, mirror,
      goTo,
    };
    made.set(video, api);
    return api;
  }

  // Each <video>'s player, for a page's other scripts (the watch page's comments).
  const made = new WeakMap();
  const playerOf = (video) => made.get(video) || null;

  window.Practika = Object.assign(window.Practika || {}, { player, playerOf });
})();
