/* Helpers shared by Practika's pages: the CSRF token, JSON calls to the API, formatting. */
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function api(url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json", "X-CSRFToken": csrfToken() }, opts.headers);
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    const response = await fetch(url, opts);
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && body.error) || "The server answered " + response.status + ".");
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + " " + units[i];
  }

  function clock(seconds) {
    if (!isFinite(seconds)) return "–";
    seconds = Math.max(0, seconds);
    const m = Math.floor(seconds / 60);
    const s = seconds - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }

  function eta(seconds) {
    if (!isFinite(seconds)) return "";
    seconds = Math.ceil(seconds);
    if (seconds < 60) return seconds + " s left";
    const m = Math.floor(seconds / 60);
    return m < 60 ? m + " min " + (seconds % 60) + " s left" : Math.floor(m / 60) + " h " + (m % 60) + " min left";
  }

  /* Poll a video until it settles; onUpdate gets every fresh copy. Returns a stop function. */
  function watchVideo(id, onUpdate, intervalMs) {
    let stopped = false;
    let timer = null;
    async function tick() {
      try {
        const video = await api("/core/api/videos/" + encodeURIComponent(id) + "/");
        if (stopped) return;
        onUpdate(video);
        if (video.status === "ready" || video.status === "failed") return;
      } catch (err) {
        if (stopped) return;
        if (err.status === 404) { onUpdate(null); return; }
      }
      timer = setTimeout(tick, intervalMs || 1500);
    }
    tick();
    return function stop() { stopped = true; clearTimeout(timer); };
  }

  /* A button with data-copy="<id of a field>" copies the field's text, and says so for a moment. */
  document.addEventListener("click", async (e) => {
    const button = e.target.closest && e.target.closest("button[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    const label = button.dataset.label || (button.dataset.label = button.textContent);
    try { await navigator.clipboard.writeText(field.value); }
    catch (err) { field.select(); document.execCommand("copy"); }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 2000);
  });

  window.Practika = { csrfToken, api, bytes, clock, eta, watchVideo };
})();
