// A second click while the first Accept is on its way would post the same token (the
// service returns the same plan anyway); disabling the button just avoids the confusion.
document.getElementById("accept-form")?.addEventListener("submit", (e) => {
  e.submitter?.setAttribute("disabled", "disabled");
});
