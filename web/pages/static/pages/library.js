/* The library: tiles of videos still being processed show live progress; when one settles the
 * page reloads once to show its poster, duration or failure reason as the server renders them. */
(function () {
  "use strict";
  const P = window.Practika;
  const tiles = document.querySelectorAll('.tile[data-status="pending"], .tile[data-status="processing"]');
  tiles.forEach((tile) => {
    const badge = tile.querySelector("[data-role=status]");
    P.watchVideo(tile.dataset.videoId, (v) => {
      if (!v) return;
      badge.className = "badge " + v.status;
      badge.textContent = v.status === "processing" ? "processing " + v.progress + " %" : v.status;
      if (v.status === "ready" || v.status === "failed") location.reload();
    }, 3000);
  });
})();
