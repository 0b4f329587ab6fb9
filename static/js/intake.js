// The intake's screening table: "No to all", the date asked only after a yes, and what a
// re-screen changed, highlighted. Without this file every radio and date field still works.
(function () {
  "use strict";
  const table = document.getElementById("screening-table");
  if (!table) return;
  const rows = Array.from(table.querySelectorAll("tr.screening-question"));
  const noToAll = document.getElementById("screening-no-to-all");
  const summary = document.getElementById("screening-summary");
  table.classList.add("js-screening");

  function answer(row) {
    const checked = row.querySelector("input[type=radio]:checked");
    return checked ? checked.value : "";
  }

  function update(row) {
    const value = answer(row);
    row.classList.toggle("is-yes", value === "yes");
    const previous = row.dataset.previous;
    row.classList.toggle("is-changed", Boolean(previous && value && value !== previous));
  }

  function summarise() {
    const open = rows.filter((r) => !answer(r)).length;
    const yes = rows.filter((r) => answer(r) === "yes").length;
    const changed = rows.filter((r) => r.classList.contains("is-changed")).length;
    const parts = [open ? open + " to answer" : "all answered", yes + " yes"];
    if (changed) parts.push(changed + " changed since the last screen");
    summary.textContent = parts.join(" · ");
  }

  rows.forEach(update);
  summarise();
  table.addEventListener("change", (event) => {
    const row = event.target.closest("tr.screening-question");
    if (!row) return;
    update(row);
    summarise();
    // A yes that asks a date: go straight to it.
    if (event.target.value === "yes") {
      const date = row.querySelector(".screening-date input");
      if (date) date.focus();
    }
  });

  noToAll.hidden = false;
  noToAll.addEventListener("click", () => {
    for (const row of rows) {
      const no = row.querySelector("input[type=radio][value=no]");
      if (no) no.checked = true;
      update(row);
    }
    summarise();
  });
})();
