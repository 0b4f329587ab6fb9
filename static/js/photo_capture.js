// The capture page: each view's card starts the tablet's camera (getUserMedia), shows the
// baseline photo of the same view translucent over the live picture to line the face up, and
// posts the shot as a JPEG to the same endpoint as the plain file form below it. Without a
// camera (or without permission) the file form is all there is, and it works on its own.
(function () {
  "use strict";

  function csrfToken(form) {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function setup(box) {
    const card = box.closest(".photo-slot");
    const form = card.querySelector(".photo-file-form");
    const video = box.querySelector(".photo-video");
    const overlay = box.querySelector(".photo-overlay");
    const toggle = box.querySelector(".photo-overlay-toggle");
    const start = box.querySelector(".photo-start");
    const shoot = box.querySelector(".photo-shoot");
    const status = box.querySelector(".photo-status");
    let stream = null;

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      start.hidden = true;
      status.textContent = "No camera in this browser: upload a file instead.";
      return;
    }

    if (toggle && overlay) {
      toggle.addEventListener("change", function () { overlay.hidden = !toggle.checked || !stream; });
    }

    start.addEventListener("click", async function () {
      status.textContent = "Starting the camera…";
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "user", width: { ideal: 1920 }, height: { ideal: 1440 } }, audio: false,
        });
      } catch (error) {
        status.textContent = "The camera could not start (" + error.name + "): upload a file instead.";
        return;
      }
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      if (overlay) overlay.hidden = toggle ? !toggle.checked : false;
      start.hidden = true;
      shoot.hidden = false;
      shoot.focus();
      status.textContent = overlay ? "Line the face up with the baseline photo, then take the photo." : "Camera ready.";
    });

    shoot.addEventListener("click", function () {
      if (!video.videoWidth) { status.textContent = "The camera has no picture yet."; return; }
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      shoot.disabled = true;
      status.textContent = "Saving…";
      canvas.toBlob(async function (blob) {
        const body = new FormData();
        body.append("image", blob, "camera.jpg");
        let response;
        try {
          response = await fetch(form.action, {
            method: "POST", body: body, credentials: "same-origin",
            headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
          });
        } catch (error) {
          status.textContent = "Not saved: the connection failed. Try again.";
          shoot.disabled = false;
          return;
        }
        const answer = await response.json().catch(function () { return {}; });
        if (!response.ok) {
          status.textContent = answer.error || "Not saved (" + response.status + ").";
          // 409: this view was already taken (another tablet, a double tap): nothing to retry.
          shoot.disabled = response.status === 409;
          return;
        }
        stream.getTracks().forEach(function (track) { track.stop(); });
        const img = document.createElement("img");
        img.className = "img-fluid rounded photo-taken";
        img.alt = "Photo just taken";
        img.src = answer.thumbnail;
        box.replaceWith(img);
        form.remove();
        card.querySelector(".card-body").insertAdjacentHTML(
          "beforeend", '<p class="small text-success mt-1 mb-0" role="status">Saved.</p>');
      }, "image/jpeg", 0.92);
    });
  }

  document.querySelectorAll(".photo-camera").forEach(setup);
})();
