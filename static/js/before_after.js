// The before/after slider: the range input decides how much of the "before" photo, laid over
// the "after" one, stays visible. A native <input type=range> keeps it keyboard accessible
// (arrow keys, Home, End) and announced by screen readers.
(function () {
  "use strict";
  const slider = document.getElementById("ba-slider");
  const range = document.getElementById("ba-range");
  if (!slider || !range) return;
  const top = slider.querySelector(".ba-top");
  const line = slider.querySelector(".ba-line");

  function show() {
    const shown = Number(range.value);
    top.style.clipPath = "inset(0 " + (100 - shown) + "% 0 0)";
    line.style.left = shown + "%";
    range.setAttribute("aria-valuetext", shown + "% before");
  }
  range.addEventListener("input", show);
  show();
})();
