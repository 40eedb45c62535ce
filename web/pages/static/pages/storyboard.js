/* Scrub previews on the watch page: a bar under the player over the video's whole length. Hovering
   it shows the frame at that moment (a thumbnail from the storyboard, a WebVTT file whose cues name
   a place on a sprite sheet, `sheet.jpg#xywh=x,y,w,h`), dragging it seeks the player there, and by
   keyboard it is a slider (arrows by 5 s, Home, End). It stays hidden until the storyboard loads. */
(() => {
  "use strict";

  const bar = document.getElementById("scrub");
  const video = document.getElementById("player");
  if (!bar || !video || !bar.dataset.storyboard) return;
  const preview = bar.querySelector("[data-role=preview]");
  const thumb = bar.querySelector("[data-role=thumb]");
  const label = bar.querySelector("[data-role=time]");
  const played = bar.querySelector("[data-role=played]");
  let cues = [];
  let dragging = false;

  function seconds(clock) {
    const [h, m, s] = clock.split(":");
    return Number(h) * 3600 + Number(m) * 60 + Number(s);
  }

  function parse(text, base) {
    const found = [];
    const pattern = /(\d+:\d\d:\d\d\.\d+) --> (\d+:\d\d:\d\d\.\d+)\s*\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
    for (const match of text.matchAll(pattern)) {
      const [, start, end, uri, x, y, w, h] = match;
      found.push({ start: seconds(start), end: seconds(end), url: new URL(uri, base).href,
                   x: Number(x), y: Number(y), w: Number(w), h: Number(h) });
    }
    return found;
  }

  function length() {
    return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : (cues.at(-1)?.end || 0);
  }

  function timeAt(clientX) {
    const rect = bar.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - rect.left) / rect.width)) * length();
  }

  function clock(t) {
    const whole = Math.floor(t);
    const m = Math.floor(whole / 60);
    return `${m}:${String(whole % 60).padStart(2, "0")}.${Math.floor((t - whole) * 10)}`;
  }

  function show(t) {
    const cue = cues.find((c) => t >= c.start && t < c.end) || cues.at(-1);
    if (!cue) return;
    thumb.style.width = `${cue.w}px`;
    thumb.style.height = `${cue.h}px`;
    thumb.style.backgroundImage = `url("${cue.url}")`;
    thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    label.textContent = clock(t);
    const rect = bar.getBoundingClientRect();
    const left = (t / length()) * rect.width - cue.w / 2;
    preview.style.left = `${Math.min(rect.width - cue.w, Math.max(0, left))}px`;
    preview.dataset.at = t.toFixed(3);
    preview.hidden = false;
  }

  function seek(t) {
    video.currentTime = t;
  }

  function update() {
    const t = video.currentTime || 0;
    played.style.width = `${length() ? (t / length()) * 100 : 0}%`;
    bar.setAttribute("aria-valuemax", String(Math.round(length())));
    bar.setAttribute("aria-valuenow", String(Math.round(t)));
    bar.setAttribute("aria-valuetext", clock(t));
  }

  bar.addEventListener("pointermove", (event) => {
    const t = timeAt(event.clientX);
    show(t);
    if (dragging) seek(t);
  });
  bar.addEventListener("pointerleave", () => {
    if (!dragging) preview.hidden = true;
  });
  bar.addEventListener("pointerdown", (event) => {
    dragging = true;
    bar.setPointerCapture(event.pointerId);
    const t = timeAt(event.clientX);
    show(t);
    seek(t);
  });
  const stop = () => {
    dragging = false;
    preview.hidden = true;
  };
  bar.addEventListener("pointerup", stop);
  bar.addEventListener("pointercancel", stop);
  bar.addEventListener("keydown", (event) => {
    const steps = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5 };
    let t = null;
    if (event.key in steps) t = (video.currentTime || 0) + steps[event.key];
    else if (event.key === "Home") t = 0;
    else if (event.key === "End") t = length();
    if (t === null) return;
    event.preventDefault();
    event.stopPropagation(); // the player's own arrow keys would step again
    t = Math.min(length(), Math.max(0, t));
    seek(t);
    show(t);
  });
  bar.addEventListener("blur", () => { preview.hidden = true; });
  video.addEventListener("timeupdate", update);
  video.addEventListener("loadedmetadata", update);

  fetch(bar.dataset.storyboard, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text().then((text) => parse(text, response.url)) : []))
    .then((found) => {
      cues = found;
      if (cues.length) {
        bar.hidden = false;
        update();
      }
    })
    .catch(() => {}); // no storyboard: the player's own timeline is all there is
})();
