/* The exercise page: the demonstration plays through player.js, and a take filmed with the
 * recorder is offered as the reply's video as soon as it exists. */
(function () {
  "use strict";
  const P = window.Practika;
  const demo = document.getElementById("player");
  if (demo && P.player) {
    const given = JSON.parse(document.getElementById("demo-sources").textContent);
    P.player(demo).sources(given);
  }

  const recorder = document.getElementById("recorder");
  const choice = document.getElementById("id_video");
  if (!recorder || !choice) return;
  recorder.addEventListener("recorded", (e) => {
    choice.add(new Option(e.detail.title, e.detail.videoId, true, true), 0);
    const none = document.getElementById("no-videos");
    if (none) none.hidden = true;
  });
})();
