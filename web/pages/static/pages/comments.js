/* The watch page's comments: a list beside the player, ordered by time, and markers on a strip
 * under it. Choosing either seeks the player there (player.goTo: with the A–B loop on, a range
 * becomes the loop). "C" pauses and puts the cursor in the comment field, at that moment.
 * Everything goes through the API (GET/POST /core/api/videos/<id>/comments/). */
(function () {
  "use strict";
  const P = window.Practika;
  const panel = document.getElementById("comments");
  if (!panel) return;
  const state = JSON.parse(document.getElementById("comments-state").textContent);
  const video = document.getElementById("player");
  const player = video && P.playerOf(video);
  const list = document.getElementById("comment-list");
  const strip = document.getElementById("comment-markers");
  const form = document.getElementById("comment-form");
  let comments = [];
  let at = 0; // the moment the comment being written is pinned to

  const clock = (t) => P.clock(t).replace(/\.0$/, "");
  const span = (c) => clock(c.at) + (c.until !== null ? "–" + clock(c.until) : "");
  const watchUrl = (id) => state.watch.replace("VIDEO_ID", encodeURIComponent(id));

  function el(tag, props, children) {
    const node = Object.assign(document.createElement(tag), props || {});
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  function choose(c) {
    if (player) player.goTo(c.at, c.until);
  }

  function item(c) {
    const who = c.author + ": " + c.text;
    const time = el("button", { type: "button", className: "time secondary small", textContent: span(c) });
    time.setAttribute("aria-label", "Play from " + span(c) + " (" + c.author + ")");
    time.addEventListener("click", () => choose(c));
    const body = el("div", { className: "comment-body" }, [
      el("strong", { textContent: c.author }), " ", el("span", { className: "description", textContent: c.text }),
    ]);
    if (c.video_reply) {
      body.append(el("div", {}, [el("a", { href: watchUrl(c.video_reply.id), textContent: "Video reply: " + c.video_reply.title })]));
    }
    if (state.user && (state.user === c.author || state.owner)) {
      const remove = el("button", { type: "button", className: "link", textContent: "Delete" });
      remove.setAttribute("aria-label", "Delete the comment " + who);
      remove.addEventListener("click", () => remove_(c));
      body.append(" ", remove);
    }
    return el("li", { className: "comment", id: "comment-" + c.id }, [time, body]);
  }

  function marker(c) {
    const d = state.duration;
    const m = el("button", { type: "button", className: "marker" + (c.until !== null ? " range" : ""), title: span(c) + " " + c.author + ": " + c.text });
    m.setAttribute("aria-label", "Comment at " + span(c) + " by " + c.author);
    m.style.left = (100 * c.at / d) + "%";
    if (c.until !== null) m.style.width = "max(.6rem, " + (100 * (c.until - c.at) / d) + "%)";
    m.addEventListener("click", () => choose(c));
    return m;
  }

  function render() {
    list.replaceChildren(...comments.map(item));
    document.getElementById("comments-empty").hidden = comments.length > 0;
    if (strip && state.duration) {
      strip.replaceChildren(...comments.map(marker));
      strip.hidden = comments.length === 0;
    }
  }

  async function load() {
    const all = [];
    let url = state.api + "?page_size=100";
    while (url) {
      const page = await P.api(url);
      all.push(...page.results);
      url = page.next;
    }
    comments = all;
    render();
  }

  async function remove_(c) {
    try {
      await P.api("/core/api/comments/" + c.id + "/", { method: "DELETE" });
      await load();
    } catch (err) {
      say(err.message);
    }
  }

  /* --- writing ------------------------------------------------------------------------------- */
  const text = document.getElementById("comment-text");
  const until = document.getElementById("comment-until");
  const error = document.getElementById("comment-error");
  function say(message) { if (error) error.textContent = message; }

  function pin() {
    at = video ? Math.round(video.currentTime * 10) / 10 : 0;
    document.getElementById("comment-at").textContent = "at " + P.clock(at);
  }

  if (form) {
    text.addEventListener("focus", pin);
    document.getElementById("comment-until-here").addEventListener("click", () => {
      if (video) until.value = (Math.round(video.currentTime * 10) / 10).toFixed(1);
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!text.value.trim()) { say("Write something first."); text.focus(); return; }
      const body = { text: text.value.trim(), at };
      if (until.value !== "") body.until = Number(until.value);
      const reply = document.getElementById("comment-video").value;
      if (reply) body.video = reply;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await P.api(state.api, { method: "POST", json: body });
        say("");
        text.value = until.value = "";
        document.getElementById("comment-video").value = "";
        await load();
      } catch (err) {
        say(err.message);
      } finally {
        button.disabled = false;
      }
    });

    // One key: C pauses, pins the moment and puts the cursor in the field (typing elsewhere is left alone).
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || (e.key !== "c" && e.key !== "C")) return;
      const tag = e.target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.target.isContentEditable) return;
      e.preventDefault();
      if (video) video.pause();
      text.focus(); // pins the moment
    });
  }

  load().catch((err) => {
    document.getElementById("comments-empty").hidden = false;
    document.getElementById("comments-empty").textContent = "The comments could not be loaded: " + err.message;
  });
})();
