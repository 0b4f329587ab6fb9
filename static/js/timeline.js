// Positions the plan timeline's bars from data attributes: the Content-Security-Policy
// forbids inline style attributes, but styles set from a static script are allowed.
(function () {
  function place(root) {
    root.querySelectorAll("#timeline [data-left]").forEach(function (el) {
      el.style.left = el.dataset.left + "%";
      if (el.dataset.width !== undefined) el.style.width = el.dataset.width + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { place(document); });
  document.addEventListener("htmx:afterSwap", function (event) { place(event.target); });
})();
