// Progressive enhancement of the Assay console; every page works without it.
// - [data-live]: the run's progress fragment (actions, timeline, agents) is
//   fetched every 2 s and swapped in, until the run is final.
// - form[data-confirm]: asks before submitting.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Delegated, so forms swapped in by the live fragment ask too.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const isFinal = () => live.querySelector("[data-final='true']") !== null;
  if (isFinal()) return;
  const tick = async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        live.innerHTML = await response.text();
        live.setAttribute("aria-busy", "false");
        if (isFinal()) return;
      }
    } catch (_) {
      // The server is away for a moment: try again on the next tick.
    }
    window.setTimeout(tick, 2000);
  };
  window.setTimeout(tick, 2000);
});
