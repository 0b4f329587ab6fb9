// Today page: htmx polls the live part every 45 seconds. A poll would replace what someone is
// typing or the rebooking slots they opened, so it waits for them.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    const live = document.getElementById("today-live");
    if (!live || event.detail.elt !== live) return;
    const busy = live.contains(document.activeElement) && document.activeElement.matches("input, select, textarea");
    if (busy || live.querySelector("[data-rebook-offers]")) event.preventDefault();
  });
})();
