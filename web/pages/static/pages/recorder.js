/* The recorder (upload page, exercise page, comment form): film a take with the camera and upload
 * it while it records.
 *
 * MediaRecorder hands over a piece of the take every CHUNK_MS; each is appended to a tus upload
 * whose length is deferred, so the server holds all but the last moments at any time. Stopping
 * shows the take for review; "Use this take" declares the length (the server then makes the
 * video), "Discard" deletes the upload. A take whose page went away is listed by the server under
 * "Interrupted recordings", where "Finish as video" declares the bytes that arrived as its length.
 */
(function () {
  "use strict";
  const P = window.Practika;
  const uploader = document.getElementById("uploader");
  const box = document.getElementById("recorder");
  if (!uploader || !box) return;
  // The best the browser records, first: WebM (VP9, then VP8, with Opus) on Chromium and Firefox,
  // MP4 on Safari. Asked of the browser, never assumed from its name.
  const TYPES = [
    "video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm",
    "video/mp4;codecs=avc1,mp4a.40.2", "video/mp4",
  ];
  const CHUNK_MS = Number(box.dataset.chunkMs);
  const COUNTDOWN = Number(box.dataset.countdown);
  const $ = (id) => document.getElementById(id);
  let preview, review, cameraSelect, flip, title, buttons; // once the recorder's body is on the page
  let stream = null;
  let facing = "user";
  let take = null; // {recorder, upload, parts, type, began, timer}

  function supportedType() {
    if (!window.MediaRecorder) return null;
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    return type === undefined ? null : type;
  }

  function state(el, text, cls) { el.textContent = text; el.className = "state " + (cls || ""); }
  const say = (text, cls) => state($("rec-state"), text, cls);

  function show(phase) {
    // idle: preview and start; recording: stop; review: the take, confirm or discard; done: nothing.
    buttons.start.hidden = phase !== "idle";
    buttons.stop.hidden = phase !== "recording";
    buttons.confirm.hidden = buttons.discard.hidden = phase !== "review";
    preview.hidden = phase === "review" || phase === "done";
    review.hidden = phase !== "review";
    $("rec-timer").hidden = phase !== "recording";
    $("rec-close").hidden = phase === "recording" || phase === "review";
    $("rec-again").hidden = phase !== "done" || !supportedType();
    box.querySelector(".recorder-stage").hidden = $("rec-settings").hidden = phase === "done";
    const settingsLocked = phase !== "idle";
    [cameraSelect, flip, title, $("rec-visibility")].forEach((el) => { el.disabled = settingsLocked; });
  }

  function defaultTitle() {
    return "Take of " + new Date().toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    preview.srcObject = null;
  }

  async function openCamera(deviceId) {
    stopCamera();
    const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
    if (deviceId) video.deviceId = { exact: deviceId };
    else video.facingMode = facing;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio: true });
    } catch (err) {
      if (err.name !== "NotFoundError" && err.name !== "OverconstrainedError") throw err;
      stream = await navigator.mediaDevices.getUserMedia({ video }); // a camera without a microphone
    }
    const settings = stream.getVideoTracks()[0].getSettings();
    facing = settings.facingMode || facing;
    // Like a mirror for the person filming themselves; the recorded file is never mirrored.
    preview.classList.toggle("mirrored", settings.facingMode !== "environment");
    preview.srcObject = stream;
    await preview.play().catch(() => null);
    await listCameras(settings.deviceId);
  }

  async function listCameras(current) {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    cameraSelect.replaceChildren(...cameras.map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || "Camera " + (i + 1);
      option.selected = d.deviceId === current;
      return option;
    }));
    // Phones have a front and a back camera: one button turns round.
    flip.hidden = !(navigator.maxTouchPoints > 0 || cameras.length > 1);
  }

  async function open() {
    if (!buttons) build();
    const type = supportedType();
    box.hidden = false;
    if (!type || !navigator.mediaDevices) {
      say("This browser cannot record video here. Record with the camera app, then upload the file.", "failed");
      show("done");
      return;
    }
    title.value = title.value || defaultTitle();
    $("rec-after").replaceChildren();
    $("rec-after").hidden = true;
    show("idle");
    say("Starting the camera…");
    try {
      await openCamera(null);
      say("");
      buttons.start.focus();
    } catch (err) {
      say("The camera could not start: " + (err.message || err.name) + ".", "failed");
    }
    box.scrollIntoView({ block: "nearest" });
  }

  function countdown() {
    const el = $("rec-countdown");
    el.hidden = false;
    return new Promise((resolve) => {
      let left = COUNTDOWN;
      const tick = () => {
        if (left === 0) { el.hidden = true; resolve(); return; }
        el.textContent = String(left--);
        setTimeout(tick, 1000);
      };
      tick();
    });
  }

  function elapsed() {
    const seconds = Math.floor((Date.now() - take.began) / 1000);
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  async function record() {
    if (!title.value.trim()) { title.focus(); say("Give the take a title first.", "failed"); return; }
    show("recording");
    buttons.stop.disabled = true;
    await countdown();
    const type = supportedType();
    const recorder = new MediaRecorder(stream, { mimeType: type });
    const file = new File([], title.value.trim() + (type.startsWith("video/mp4") ? ".mp4" : ".webm"), { type });
    const upload = new window.PractikaTus.Upload(file, {
      endpoint: uploader.dataset.endpoint,
      chunkSize: Number(uploader.dataset.chunkBytes) || undefined,
      csrfToken: P.csrfToken,
      uploadLengthDeferred: true,
      metadata: { title: title.value.trim(), visibility: $("rec-visibility").value },
      on: {
        retry: (e) => say(e.message + " The take goes on; its upload catches up when the connection is back.", "failed"),
        error: (e) => {
          take.failed = "The upload of this take failed: " + e.message;
          if (recorder.state === "recording") stop();
          else if (!buttons.confirm.hidden) buttons.confirm.hidden = true;
          say(take.failed, "failed");
        },
        success: (e) => finished(e.videoId),
      },
    });
    take = { recorder, upload, parts: [], type, began: Date.now(), timer: null, length: "", failed: null };
    recorder.addEventListener("dataavailable", (e) => {
      if (!e.data.size) return;
      take.parts.push(e.data);
      upload.append(e.data);
    });
    recorder.addEventListener("stop", reviewTake);
    upload.start();
    recorder.start(CHUNK_MS);
    take.timer = setInterval(() => { $("rec-timer").textContent = elapsed(); }, 250);
    $("rec-timer").textContent = "0:00";
    buttons.stop.disabled = false;
    buttons.stop.focus();
    say("Recording. The take is uploaded as you go.");
  }

  function stop() {
    clearInterval(take.timer);
    take.length = elapsed();
    buttons.stop.disabled = true;
    take.recorder.stop(); // its last piece arrives before "stop"
  }

  function reviewTake() {
    stopCamera();
    review.src = URL.createObjectURL(new Blob(take.parts, { type: take.type }));
    show("review");
    if (take.failed) { buttons.confirm.hidden = true; say(take.failed, "failed"); buttons.discard.focus(); return; }
    say("Review the take (" + take.length + "), then use it or discard it.");
    buttons.confirm.focus();
  }

  function confirmTake() {
    show("done");
    say("Sending the last seconds…");
    take.upload.end();
  }

  async function discard() {
    const { upload } = take;
    URL.revokeObjectURL(review.src);
    review.removeAttribute("src");
    take = null;
    say("Take discarded.");
    await upload.abort(); // tus termination: the server drops its bytes
    show("idle");
    title.value = defaultTitle();
    await openCamera(cameraSelect.value || null).catch((err) => say("The camera could not start: " + err.message, "failed"));
  }

  function finished(videoId) {
    URL.revokeObjectURL(review.src);
    review.removeAttribute("src");
    // The page around the recorder uses the new video at once: the reply's or the comment's video.
    const choice = box.dataset.choice && $(box.dataset.choice);
    if (choice) choice.add(new Option(title.value.trim(), videoId, true, true), choice.options[0] && choice.options[0].value === "" ? 1 : 0);
    box.dispatchEvent(new CustomEvent("recorded", { detail: { videoId, title: title.value.trim() } }));
    take = null;
    follow(videoId, box.querySelector(".processing"), $("rec-state"), $("rec-progress"), $("rec-after"));
  }

  /* Processing news of a take that became a video, until it plays. */
  function follow(videoId, bar, stateEl, progress, after) {
    state(stateEl, "Uploaded. Waiting for a worker…");
    if (bar) bar.hidden = false;
    P.watchVideo(videoId, (video) => {
      if (!video) { state(stateEl, "This video is gone.", "failed"); return; }
      if (progress) progress.value = video.status === "ready" ? 100 : video.progress || 0;
      if (video.status === "failed") {
        state(stateEl, "Processing failed: " + (video.error || "no reason was given."), "failed");
      } else if (video.status === "ready") {
        state(stateEl, "Ready.", "ready");
      } else {
        state(stateEl, video.status === "pending" ? "Uploaded. Waiting for a worker…" : "Processing… " + (video.progress || 0) + " %");
      }
      if (bar) bar.hidden = video.status === "ready" || video.status === "failed";
      if ((video.status === "ready" || video.renditions.length || video.hls_url) && !after.childElementCount) {
        const link = document.createElement("a");
        link.className = "button";
        link.href = uploader.dataset.watch.replace("VIDEO_ID", encodeURIComponent(videoId));
        link.textContent = "Watch " + video.title;
        after.append(link);
        after.hidden = false;
      }
    });
  }

  /* An interrupted take: ask the server how much it has, and declare that as the length. */
  async function finishInterrupted(li) {
    const url = li.dataset.url;
    const stateEl = li.querySelector("[data-role=rec-state]");
    li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const headers = { "Tus-Resumable": "1.0.0", "X-CSRFToken": P.csrfToken() };
    try {
      const head = await fetch(url, { method: "HEAD", headers, credentials: "same-origin" });
      if (!head.ok) throw new Error(head.status === 410 ? "This take has expired." : "The server answered " + head.status + ".");
      const offset = head.headers.get("Upload-Offset");
      const done = await fetch(url, {
        method: "PATCH",
        credentials: "same-origin",
        headers: Object.assign({ "Upload-Offset": offset, "Upload-Length": offset, "Content-Type": "application/offset+octet-stream" }, headers),
        body: new Blob([]),
      });
      if (!done.ok) throw new Error(((await done.json().catch(() => null)) || {}).error || "The server answered " + done.status + ".");
      li.querySelector(".form-actions").hidden = true;
      follow(done.headers.get("Practika-Video-Id"), null, stateEl, null, li.querySelector("[data-role=rec-after]"));
    } catch (err) {
      state(stateEl, err.message, "failed");
      li.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  async function deleteInterrupted(li) {
    li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    await fetch(li.dataset.url, {
      method: "DELETE", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0", "X-CSRFToken": P.csrfToken() },
    }).catch(() => null);
    const list = li.parentElement;
    li.remove();
    if (!list.childElementCount) $("interrupted").hidden = true;
  }

  function build() {
    box.append($("recorder-body").content.cloneNode(true));
    preview = $("rec-preview");
    review = $("rec-review");
    // A recorder's WebM does not say how long it is, so the review could neither show its length
    // nor seek: a seek past the end makes the browser read it through and find out.
    review.addEventListener("loadedmetadata", () => {
      if (review.duration !== Infinity) return;
      review.addEventListener("durationchange", () => { review.currentTime = 0; }, { once: true });
      review.currentTime = Number.MAX_SAFE_INTEGER;
    });
    cameraSelect = $("rec-camera");
    flip = $("rec-flip");
    title = $("rec-title");
    buttons = { start: $("rec-start"), stop: $("rec-stop"), confirm: $("rec-confirm"), discard: $("rec-discard") };
    buttons.start.addEventListener("click", record);
    buttons.stop.addEventListener("click", stop);
    buttons.confirm.addEventListener("click", confirmTake);
    buttons.discard.addEventListener("click", discard);
    $("rec-again").addEventListener("click", () => { title.value = defaultTitle(); open(); });
    $("rec-close").addEventListener("click", () => {
      stopCamera();
      box.hidden = true;
    });
    cameraSelect.addEventListener("change", () => openCamera(cameraSelect.value).catch((err) => say(err.message, "failed")));
    flip.addEventListener("click", () => {
      facing = facing === "user" ? "environment" : "user";
      openCamera(null).catch((err) => say("The other camera could not start: " + err.message, "failed"));
    });
  }

  $("record-row").hidden = false;
  $("record-open").addEventListener("click", open);
  document.querySelectorAll("#interrupted li").forEach((li) => {
    li.addEventListener("click", (e) => {
      const action = e.target.closest("button") && e.target.closest("button").dataset.action;
      if (action === "finish") finishInterrupted(li);
      if (action === "delete") deleteInterrupted(li);
    });
  });
  window.addEventListener("beforeunload", (e) => {
    // The server keeps what arrived, but the last seconds and the review would be lost.
    if (take) { e.preventDefault(); e.returnValue = ""; }
  });
})();
