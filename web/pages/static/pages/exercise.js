/* The exercise page: the demonstration plays through player.js; once a take filmed with the
 * recorder is the reply's video (recorder.js chooses it), "no videos yet" no longer holds. */
(function () {
  "use strict";
  const P = window.Practika;
  const demo = document.getElementById("player");
  if (demo && P.player) {
    const given = JSON.parse(document.getElementById("demo-sources").textContent);
    P.player(demo).sources(given);
  }

  const recorder = document.getElementById("recorder");
  const none = document.getElementById("no-videos");
  if (recorder && none) recorder.addEventListener("recorded", () => { none.hidden = true; });
})();
