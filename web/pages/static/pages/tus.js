/* A small tus 1.0.0 client (core + creation + creation-defer-length + termination), written for
 * Practika's pages.
 *
 * POST creates the upload with Upload-Length and base64 Upload-Metadata; PATCH sends chunks with
 * Upload-Offset (XMLHttpRequest, for upload progress events); HEAD finds the server's offset
 * after an error or a reload. The upload's URL is remembered in localStorage under a fingerprint
 * of the file (name, size, mtime), so choosing the same file after a reload continues it.
 *
 * With uploadLengthDeferred the file grows while it uploads (a recording): append() adds bytes,
 * end() says there are no more, and the PATCH that carries the last of them, or an empty one,
 * declares Upload-Length. Such an upload is not remembered here: the server lists it.
 */
(function () {
  "use strict";

  const PREFIX = "practika.tus:";
  const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  const DEFAULT_CHUNK = 8 * 1024 * 1024;
  const VIDEO_ID_HEADER = "Practika-Video-Id";
  const CHUNK_HEADER = "Practika-Upload-Chunk-Size";
  const CHUNK_MAX_HEADER = "Practika-Upload-Chunk-Max";
  // A PATCH on a fast link aims at this long: fewer requests, yet far inside the 30 s a request
  // may take behind Heroku's router, even if the link slows down fivefold.
  const PATCH_TARGET_MS = 5000;
  // A growing upload with nothing to send looks again this often, unless append() wakes it first.
  const IDLE_MS = 1000;

  function fingerprint(file) {
    return PREFIX + [file.name, file.size, file.lastModified].join("|");
  }

  function encodeMetadata(meta) {
    return Object.keys(meta)
      .filter((k) => meta[k] !== undefined && meta[k] !== null && meta[k] !== "")
      .map((k) => k + " " + btoa(String.fromCharCode(...new TextEncoder().encode(String(meta[k])))))
      .join(",");
  }

  function stored() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key.startsWith(PREFIX)) {
        try { out.push(Object.assign({ key }, JSON.parse(localStorage.getItem(key)))); } catch (e) { /* skip */ }
      }
    }
    return out;
  }

  class HttpError extends Error {
    constructor(message, status, retryable) { super(message); this.status = status; this.retryable = retryable; }
  }

  function request(method, url, headers, body, onProgress, track) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      Object.keys(headers).forEach((k) => xhr.setRequestHeader(k, headers[k]));
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new HttpError("The connection dropped.", 0, true));
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => reject(new HttpError("Stopped.", 0, true));
      if (track) track(xhr);
      xhr.send(body === undefined ? null : body);
    });
  }

  function errorFrom(xhr) {
    let message = "The server answered " + xhr.status + ".";
    try { message = JSON.parse(xhr.responseText).error || message; } catch (e) { /* not JSON */ }
    // Server trouble and rate limits pass; anything else the user must fix (too big, signed out).
    return new HttpError(message, xhr.status, xhr.status >= 500 || xhr.status === 423 || xhr.status === 429);
  }

  class Upload {
    constructor(file, options) {
      this.file = file;
      this.name = file.name;
      this.deferred = Boolean(options.uploadLengthDeferred);
      this.ended = !this.deferred;
      this.lengthKnown = !this.deferred;
      this.endpoint = options.endpoint;
      this.metadata = options.metadata || {};
      this.csrfToken = options.csrfToken || (() => "");
      this.chunkBase = options.chunkSize || DEFAULT_CHUNK;
      this.chunkMax = this.chunkBase;
      this.chunkSize = this.chunkBase;
      this.on = options.on || {};
      this.key = fingerprint(file);
      const previous = this.deferred ? null : JSON.parse(localStorage.getItem(this.key) || "null");
      this.url = previous && previous.url;
      this.offset = 0;
      this.videoId = null;
      this.running = false;
      this.generation = 0;
      this.xhr = null;
    }

    get resumable() { return Boolean(this.url); }

    emit(name, detail) { if (this.on[name]) this.on[name](detail); }

    headers(extra) {
      return Object.assign({ "Tus-Resumable": "1.0.0", "X-CSRFToken": this.csrfToken() }, extra || {});
    }

    learn(xhr) {
      const base = parseInt(xhr.getResponseHeader(CHUNK_HEADER), 10);
      const most = parseInt(xhr.getResponseHeader(CHUNK_MAX_HEADER), 10);
      if (base > 0) this.chunkBase = base;
      this.chunkMax = Math.max(most > 0 ? most : this.chunkBase, this.chunkBase);
      this.chunkSize = Math.min(Math.max(this.chunkSize, this.chunkBase), this.chunkMax);
      this.videoId = xhr.getResponseHeader(VIDEO_ID_HEADER) || this.videoId;
    }

    /* More bytes of a growing (deferred-length) upload. */
    append(blob) {
      this.file = new Blob([this.file, blob], { type: this.file.type });
      if (this.wake) this.wake();
    }

    /* No more bytes will come: the server is told the length. */
    end() {
      this.ended = true;
      if (this.wake) this.wake();
    }

    remember() {
      if (this.deferred) return;
      localStorage.setItem(this.key, JSON.stringify({
        url: this.url, name: this.name, size: this.file.size, metadata: this.metadata, at: Date.now(),
      }));
    }

    forget() { localStorage.removeItem(this.key); }

    async create() {
      const length = this.deferred ? { "Upload-Defer-Length": "1" } : { "Upload-Length": String(this.file.size) };
      const xhr = await request("POST", this.endpoint, this.headers(Object.assign(length, {
        "Upload-Metadata": encodeMetadata(Object.assign({ filename: this.name }, this.metadata)),
      })), undefined, null, (x) => { this.xhr = x; });
      if (xhr.status !== 201) throw errorFrom(xhr);
      this.url = new URL(xhr.getResponseHeader("Location"), location.href).href;
      this.offset = 0;
      this.learn(xhr);
      this.remember();
    }

    /* Ask the server how much it has; false when the upload is gone (expired or removed). */
    async sync() {
      const xhr = await request("HEAD", this.url, this.headers(), undefined, null, (x) => { this.xhr = x; });
      if (xhr.status === 404 || xhr.status === 410 || xhr.status === 403) return false;
      if (xhr.status < 200 || xhr.status >= 300) throw errorFrom(xhr);
      this.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10) || 0;
      this.lengthKnown = this.lengthKnown || xhr.getResponseHeader("Upload-Length") !== null;
      this.learn(xhr);
      return true;
    }

    /* The next chunk: what the last PATCH's speed sends in PATCH_TARGET_MS, in whole multiples
     * of the server's chunk size (S3 parts), between one of them and the server's maximum. */
    tune(bytes, ms) {
      const fits = Math.floor((bytes / Math.max(ms, 1)) * PATCH_TARGET_MS / this.chunkBase) * this.chunkBase;
      this.chunkSize = Math.min(Math.max(fits, this.chunkBase), this.chunkMax);
    }

    async patch() {
      const end = Math.min(this.offset + this.chunkSize, this.file.size);
      const start = this.offset;
      const began = Date.now();
      const declares = !this.lengthKnown && this.ended && end === this.file.size;
      const headers = { "Upload-Offset": String(start), "Content-Type": "application/offset+octet-stream" };
      if (declares) headers["Upload-Length"] = String(this.file.size);
      const xhr = await request(
        "PATCH", this.url,
        this.headers(headers),
        this.file.slice(start, end),
        (loaded) => this.emit("progress", { sent: start + loaded, total: this.file.size }),
        (x) => { this.xhr = x; },
      );
      if (xhr.status === 409) return false; // the offsets disagree: HEAD tells the truth
      if (xhr.status < 200 || xhr.status >= 300) throw errorFrom(xhr);
      this.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
      this.lengthKnown = this.lengthKnown || declares;
      this.learn(xhr);
      this.tune(this.offset - start, Date.now() - began);
      this.emit("progress", { sent: this.offset, total: this.file.size });
      return true;
    }

    async start() {
      if (this.running) return;
      this.running = true;
      // A paused loop may still be awaiting a request; the generation tells it to stop for good.
      const generation = ++this.generation;
      const alive = () => this.running && this.generation === generation;
      this.emit("state", { state: "uploading" });
      let attempt = 0;
      let needSync = this.resumable;
      while (alive()) {
        try {
          if (needSync && !(await this.sync())) { this.forget(); this.url = null; }
          needSync = false;
          if (!this.url) await this.create();
          const sent = this.offset >= this.file.size;
          if (sent && this.lengthKnown && !this.videoId) await this.sync();
          if (!alive()) return;
          if (sent && this.lengthKnown) {
            this.running = false;
            this.forget();
            this.emit("success", { videoId: this.videoId });
            return;
          }
          if (sent && !this.ended) { await this.wait(IDLE_MS); continue; }
          if (!(await this.patch())) needSync = true;
          attempt = 0;
        } catch (err) {
          if (!alive()) return; // paused: the aborted request is expected
          if (!err.retryable) {
            this.running = false;
            this.emit("error", { message: err.message, status: err.status });
            return;
          }
          const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
          this.chunkSize = this.chunkBase; // the link may have slowed: start small again
          attempt += 1;
          this.emit("retry", { message: err.message, delay, attempt });
          await this.wait(delay);
          needSync = Boolean(this.url);
        }
      }
    }

    /* Sleep before a retry; coming back online or a resume click cuts the wait short. */
    wait(ms) {
      return new Promise((resolve) => {
        const done = () => { clearTimeout(timer); window.removeEventListener("online", done); this.wake = null; resolve(); };
        const timer = setTimeout(done, ms);
        window.addEventListener("online", done);
        this.wake = done;
      });
    }

    pause() {
      this.running = false;
      if (this.xhr) this.xhr.abort();
      if (this.wake) this.wake();
      this.emit("state", { state: "paused" });
    }

    /* Abandon: the server drops what it has (tus termination). */
    async abort() {
      this.pause();
      this.forget();
      if (this.url) await request("DELETE", this.url, this.headers()).catch(() => null);
    }
  }

  window.PractikaTus = { Upload, stored, fingerprint, encodeMetadata };
})();
