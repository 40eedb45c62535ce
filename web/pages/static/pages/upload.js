/* The upload page: pick or drop files, one resumable tus upload each, then live processing. */
(function () {
  "use strict";
  const P = window.Practika;
  const root = document.getElementById("uploader");
  if (!root) return;
  const list = document.getElementById("uploads");
  const template = document.getElementById("upload-item");
  const input = document.getElementById("files");
  const zone = document.getElementById("dropzone");
  const startAllRow = document.getElementById("start-all-row");
  const maxBytes = Number(root.dataset.maxBytes);
  const chunkBytes = Number(root.dataset.chunkBytes) || undefined;
  const items = [];
  let serial = 0;

  function titleFrom(name) {
    return name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || name;
  }

  function watchUrl(id) { return root.dataset.watch.replace("VIDEO_ID", encodeURIComponent(id)); }

  function refreshStartAll() {
    startAllRow.hidden = items.filter((it) => it.state === "ready").length < 2;
  }

  function showUnfinished() {
    const box = document.getElementById("unfinished");
    const ul = box.querySelector("ul");
    const open = new Set(items.map((it) => it.upload && it.upload.key));
    const pending = window.PractikaTus.stored().filter((s) => !open.has(s.key));
    ul.replaceChildren(...pending.map((s) => {
      const li = document.createElement("li");
      li.textContent = s.name + " (" + P.bytes(s.size) + ") ";
      const forget = document.createElement("button");
      forget.type = "button";
      forget.className = "link";
      forget.textContent = "Forget it";
      forget.setAttribute("aria-label", "Forget the unfinished upload of " + s.name);
      forget.addEventListener("click", () => {
        localStorage.removeItem(s.key);
        fetch(s.url, { method: "DELETE", headers: { "Tus-Resumable": "1.0.0", "X-CSRFToken": P.csrfToken() } }).catch(() => null);
        showUnfinished();
      });
      li.append(forget);
      return li;
    }));
    box.hidden = pending.length === 0;
  }

  function addFile(file) {
    const node = template.content.firstElementChild.cloneNode(true);
    const id = "u" + (++serial);
    const q = (sel) => node.querySelector(sel);
    const field = (name) => q('[data-field="' + name + '"]');
    ["title", "description", "visibility"].forEach((name) => {
      field(name).id = id + "-" + name;
      q('[data-for="' + name + '"]').setAttribute("for", id + "-" + name);
    });
    q(".file").textContent = file.name + " · " + P.bytes(file.size);
    field("title").value = titleFrom(file.name);
    q("[data-role=upload-progress]").setAttribute("aria-label", "Upload progress for " + file.name);
    q("[data-role=processing-progress]").setAttribute("aria-label", "Processing progress for " + file.name);
    ["start", "pause", "remove"].forEach((a) => q('[data-action="' + a + '"]').setAttribute(
      "aria-label", { start: "Upload", pause: "Pause", remove: "Remove" }[a] + " " + file.name));
    list.append(node);
    const item = { file, node, state: "ready", upload: null, samples: [] };
    items.push(item);

    const state = (text, cls) => { const el = q("[data-role=state]"); el.textContent = text; el.className = "state " + (cls || ""); };
    const pauseBtn = q('[data-action="pause"]');
    const startBtn = q('[data-action="start"]');

    if (file.size === 0) { state("This file is empty.", "failed"); startBtn.disabled = true; item.state = "invalid"; }
    else if (file.size > maxBytes) {
      state("This file is larger than the " + P.bytes(maxBytes) + " limit.", "failed");
      startBtn.disabled = true; item.state = "invalid";
    }

    function lockFields() { ["title", "description", "visibility"].forEach((n) => { field(n).disabled = true; }); }

    function progress(sent, total) {
      const pct = Math.floor((sent / total) * 100);
      q("[data-role=upload-progress]").value = pct;
      q("[data-role=percent]").textContent = pct + " %";
      const now = performance.now();
      item.samples.push([now, sent]);
      while (item.samples.length > 2 && now - item.samples[0][0] > 5000) item.samples.shift();
      const [t0, b0] = item.samples[0];
      if (now - t0 > 300 && sent > b0) {
        const rate = (sent - b0) / ((now - t0) / 1000);
        q("[data-role=speed]").textContent = P.bytes(rate) + "/s";
        q("[data-role=eta]").textContent = P.eta((total - sent) / rate);
      }
    }

    function processing(videoId) {
      item.state = "processing";
      pauseBtn.hidden = true;
      q('[data-action="remove"]').hidden = true;
      q(".processing").hidden = false;
      const after = q("[data-role=after]");
      P.watchVideo(videoId, (video) => {
        if (!video) { state("This video is gone.", "failed"); return; }
        q("[data-role=processing-progress]").value = video.status === "ready" ? 100 : video.progress || 0;
        after.replaceChildren();
        after.hidden = true;
        if (video.status === "ready" || video.renditions.length) {
          const link = document.createElement("a");
          link.className = "button";
          link.href = watchUrl(videoId);
          link.textContent = "Watch " + video.title;
          after.append(link);
          after.hidden = false;
        }
        if (video.status === "ready") { state("Ready.", "ready"); q(".processing").hidden = true; }
        else if (video.status === "failed") {
          q(".processing").hidden = true;
          state("Processing failed: " + (video.error || "no reason was given."), "failed");
          const retry = document.createElement("button");
          retry.type = "button";
          retry.textContent = "Retry processing";
          retry.addEventListener("click", async () => {
            retry.disabled = true;
            try {
              await P.api("/core/api/videos/" + encodeURIComponent(videoId) + "/reprocess/", { method: "POST" });
              state("Processing again…");
              after.hidden = true;
              processing(videoId);
            } catch (err) { state(err.message, "failed"); retry.disabled = false; }
          });
          after.append(retry);
          after.hidden = false;
        } else {
          state(video.status === "pending" ? "Uploaded. Waiting for a worker…" : "Processing… " + (video.progress || 0) + " %");
        }
      });
    }

    function start() {
      if (!field("title").value.trim()) { field("title").focus(); state("Give the video a title first.", "failed"); return; }
      startBtn.hidden = true;
      pauseBtn.hidden = false;
      q(".transfer").hidden = false;
      if (!item.upload) {
        item.upload = new window.PractikaTus.Upload(file, {
          endpoint: root.dataset.endpoint,
          chunkSize: chunkBytes,
          csrfToken: P.csrfToken,
          metadata: { title: field("title").value.trim(), description: field("description").value, visibility: field("visibility").value },
          on: {
            progress: (e) => progress(e.sent, e.total),
            state: (e) => {
              item.state = e.state;
              if (e.state === "uploading") { state("Uploading…"); pauseBtn.textContent = "Pause"; }
              if (e.state === "paused") { state("Paused."); pauseBtn.textContent = "Resume"; }
            },
            retry: (e) => state(e.message + " Trying again in " + Math.round(e.delay / 1000) + " s…", "failed"),
            error: (e) => {
              state("Upload failed: " + e.message, "failed");
              item.state = "failed";
              pauseBtn.textContent = "Resume";
            },
            success: (e) => {
              progress(file.size, file.size);
              q("[data-role=speed]").textContent = "";
              q("[data-role=eta]").textContent = "";
              state("Uploaded.");
              showUnfinished();
              if (e.videoId) processing(e.videoId);
            },
          },
        });
      }
      lockFields();
      item.upload.start();
      refreshStartAll();
    }
    item.start = start;

    startBtn.addEventListener("click", start);
    pauseBtn.addEventListener("click", () => {
      if (item.state === "uploading") item.upload.pause();
      else item.upload.start();
    });
    q('[data-action="remove"]').addEventListener("click", async () => {
      if (item.upload) await item.upload.abort();
      node.remove();
      items.splice(items.indexOf(item), 1);
      refreshStartAll();
      showUnfinished();
    });

    // The same file chosen again after a reload: carry on with what was sent before.
    const previous = JSON.parse(localStorage.getItem(window.PractikaTus.fingerprint(file)) || "null");
    if (previous && item.state === "ready") {
      const meta = previous.metadata || {};
      ["title", "description", "visibility"].forEach((n) => { if (meta[n] !== undefined) field(n).value = meta[n]; });
      state("Continuing the earlier upload of this file…");
      start();
    }
    refreshStartAll();
  }

  function addFiles(files) {
    Array.from(files).forEach(addFile);
    showUnfinished();
    const first = list.querySelector('.upload:last-child [data-field="title"]:not(:disabled)');
    if (first && files.length === 1) first.focus();
  }

  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => { e.preventDefault(); addFiles(e.dataTransfer.files); });
  document.getElementById("start-all").addEventListener("click", () => {
    items.filter((it) => it.state === "ready").forEach((it) => it.start());
  });
  window.addEventListener("beforeunload", (e) => {
    if (items.some((it) => it.state === "uploading")) { e.preventDefault(); e.returnValue = ""; }
  });
  showUnfinished();
})();
