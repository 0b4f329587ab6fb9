// The signature box of the consent page: signature_pad draws on the canvas, and the form carries
// the drawing as a PNG data URL. The server checks it is a real, non-empty PNG: this only helps.
(function () {
  "use strict";
  const canvas = document.getElementById("signature-pad");
  const form = document.getElementById("sign-form");
  if (!canvas || !form || typeof SignaturePad === "undefined") return;
  const field = form.querySelector("input[name=signature]");
  const pad = new SignaturePad(canvas, { backgroundColor: "rgba(0,0,0,0)", penColor: "#111" });

  // Size the drawing surface to the box on screen (and the screen's pixel density), keeping
  // what was drawn when a tablet is turned.
  function resize() {
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }
  window.addEventListener("resize", resize);
  resize();

  document.getElementById("signature-clear").addEventListener("click", function () {
    pad.clear();
    field.value = "";
  });
  form.addEventListener("submit", function () {
    field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();
