// The booking calendar: @event-calendar (installed by npm, served by Django) plus our dialogs.
// Every rule lives on the server; this file only sends what the user did and shows the answer.
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("calendar-config").textContent);
  const el = document.getElementById("calendar");
  const csrf = el.dataset.csrf;
  const alertBox = document.getElementById("calendar-alert");
  // The server speaks clinic wall-clock time ("2027-03-01T09:00"). The calendar runs at the
  // clinic's UTC offset and hands out Dates whose UTC fields are that zone's wall clock
  // (checked in tests/browser/test_booking_flow.py), so the wall-clock string is the ISO prefix.
  function wall(date) {
    return date.toISOString().slice(0, 16);
  }

  function showAlert(message, kind) {
    alertBox.textContent = message;
    alertBox.className = "alert py-2 alert-" + (kind || "info");
  }

  function urlFor(template, id) {
    return template.replace("/0/", "/" + id + "/");
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      body: data,
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    let body;
    try {
      body = await response.json();
    } catch (e) {
      body = { ok: false, message: "The server did not answer properly (" + response.status + ")." };
    }
    body.status = response.status;
    return body;
  }

  function modal(id) {
    return bootstrap.Modal.getOrCreateInstance(document.getElementById(id));
  }

  // Bootstrap ignores hide() while a dialog is still fading in, so an answer that comes back
  // within the fade (a fast server, a quick tap) would leave the dialog open over the page.
  // A dialog asked to close while opening closes as soon as it is shown.
  const opening = new Set();
  for (const el of document.querySelectorAll(".modal")) {
    el.addEventListener("show.bs.modal", () => opening.add(el.id));
    el.addEventListener("shown.bs.modal", () => opening.delete(el.id));
  }
  function closeModal(id) {
    const el = document.getElementById(id);
    if (opening.has(id)) el.addEventListener("shown.bs.modal", () => modal(id).hide(), { once: true });
    else modal(id).hide();
  }

  // --- Booking an empty slot -------------------------------------------------------------
  const bookForm = document.getElementById("book-form");
  const bookError = document.getElementById("book-error");
  let bookRoom = "";

  const bookSearch = document.getElementById("book-search");
  let bookDay = "";
  let bookPractitioner = "";
  let bookSeq = 0;

  // The sessions due that day (bounded on the server), or those matching the search.
  async function loadBookable() {
    const seq = ++bookSeq;
    const params = new URLSearchParams({ date: bookDay });
    if (bookPractitioner) params.set("practitioner", bookPractitioner);
    if (bookSearch.value.trim()) params.set("q", bookSearch.value.trim());
    const rows = await (await fetch(cfg.bookableUrl + "?" + params, { credentials: "same-origin" })).json();
    if (seq !== bookSeq) return; // a later keystroke's answer wins
    const select = document.getElementById("book-session");
    select.innerHTML = "";
    for (const row of rows) {
      const option = document.createElement("option");
      option.value = row.id;
      option.textContent = (row.inWindow ? "" : "⚠ outside window: ") + (row.usual ? "★ " : "") + row.label;
      select.appendChild(option);
    }
    if (!rows.length) {
      const option = document.createElement("option");
      option.textContent = bookSearch.value.trim() ? "No client plan matches" : "No session is due this day: search for a client";
      option.value = "";
      select.appendChild(option);
    }
  }

  let searchTimer = null;
  bookSearch.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadBookable, 250);
  });
  // Enter in the search box searches; it must not book whatever is selected.
  bookSearch.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(searchTimer);
      loadBookable();
    }
  });

  async function openBook(info) {
    if (info.allDay) return;
    const start = wall(info.date);
    bookForm.elements.starts_at.value = start;
    bookForm.elements.override_reason.value = "";
    bookError.classList.add("d-none");
    if (cfg.mode === "practitioners" && info.resource) {
      bookForm.elements.practitioner.value = String(info.resource.id);
      bookRoom = "";
    } else {
      bookRoom = info.resource ? String(info.resource.id) : "";
    }
    document.getElementById("book-when").textContent =
      "At " + start.replace("T", " ") + (info.resource ? " · " + info.resource.title : "");
    bookDay = start.slice(0, 10);
    bookPractitioner = cfg.mode === "practitioners" && info.resource ? String(info.resource.id) : "";
    bookSearch.value = "";
    await loadBookable();
    modal("book-dialog").show();
  }

  bookForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(bookForm);
    const sessionId = data.get("session");
    if (!sessionId) return;
    data.set("room", bookRoom);
    const body = await post(urlFor(cfg.bookUrl, sessionId), data);
    if (body.ok) {
      closeModal("book-dialog");
      showAlert(body.message, "success");
      ec.refetchEvents();
    } else {
      bookError.textContent = clinicalText(body);
      bookError.classList.remove("d-none");
      // Outside the window or interval: the reason field is what can make it allowed. A
      // clinical rule (deferral, washout) or a hold is not staff's to override: no box.
      if (body.code === "needs_override") bookForm.elements.override_reason.focus();
    }
  });

  // --- Moving: confirm first, then cascade and override dialogs, then Undo ----------------
  // Every decision below is taken on the server's `code`, never on the wording of a message.
  let pendingMove = null; // {sessionId, data, revert, undo}

  function showCascade(body, move) {
    pendingMove = move;
    document.getElementById("cascade-message").textContent = body.message;
    const rows = document.getElementById("cascade-rows");
    rows.innerHTML = "";
    let outside = false;
    for (const shift of body.cascade) {
      const tr = document.createElement("tr");
      for (const text of [shift.label, shift.from, shift.to || "no free slot", shift.reason]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      if (shift.outsideWindow) {
        outside = true;
        tr.classList.add("table-warning");
      }
      rows.appendChild(tr);
    }
    document.getElementById("cascade-override-group").classList.toggle("d-none", !outside);
    document.getElementById("cascade-override").value = move.data.get("override_reason") || "";
    document.getElementById("cascade-error").classList.add("d-none");
    move.cascade = JSON.stringify(body.cascade.map((s) => ({ session: s.session, start: s.start })));
    modal("cascade-dialog").show();
  }

  function showOverride(body, move) {
    pendingMove = move;
    document.getElementById("override-message").textContent = body.message;
    document.getElementById("override-reason").value = "";
    document.getElementById("override-error").classList.add("d-none");
    modal("override-dialog").show();
  }

  // The appointment as it was, so Undo can put it back through the same reschedule endpoint.
  function undoData(event) {
    const props = event.extendedProps;
    const data = new FormData();
    data.set("starts_at", wall(event.start));
    data.set("practitioner", props.practitionerId);
    data.set("room", props.roomId || "");
    return data;
  }

  function showUndo(message, move) {
    const toast = document.getElementById("move-toast");
    document.getElementById("move-toast-text").textContent = message;
    const button = document.getElementById("move-undo");
    button.classList.toggle("d-none", !move.undo);
    button.onclick = async () => {
      bootstrap.Toast.getOrCreateInstance(toast).hide();
      const back = { sessionId: move.sessionId, data: move.undo, revert: null, undo: null, isUndo: true };
      const failed = await sendMove(back);
      if (failed) showAlert("Could not undo: " + failed.message, "danger");
    };
    bootstrap.Toast.getOrCreateInstance(toast).show();
  }

  // A clinical rule or hold: say who decides, and offer nothing to type a reason into.
  function clinicalText(body) {
    if (body.code === "needs_clinician") return `A clinician must decide. ${body.message}`;
    if (body.code === "clinical_hold" || body.code === "review_pending") return `A clinician must decide first. ${body.message}`;
    return body.message;
  }

  // Sends a move. Returns null when it is done or a dialog took over, else the failed answer.
  async function sendMove(move) {
    const body = await post(urlFor(cfg.rescheduleUrl, move.sessionId), move.data);
    if (body.ok) {
      pendingMove = null;
      for (const id of ["cascade-dialog", "override-dialog", "session-dialog"]) closeModal(id);
      showAlert(body.message, "success");
      // Undo is offered for a single move: a cascade also moved later sessions.
      if (!move.isUndo) showUndo(body.message, body.moved === 1 ? move : { ...move, undo: null });
      ec.refetchEvents();
      return null;
    }
    if (body.code === "cascade_required") {
      showCascade(body, move);
      return null;
    }
    if (body.code === "needs_override" && !move.data.get("override_reason")) {
      showOverride(body, move);
      return null;
    }
    return { ...body, message: clinicalText(body) };
  }

  function failedIn(boxId, failed) {
    const box = document.getElementById(boxId);
    box.textContent = failed.message;
    box.classList.remove("d-none");
  }

  document.getElementById("cascade-confirm").addEventListener("click", async () => {
    if (!pendingMove) return;
    pendingMove.data.set("cascade", pendingMove.cascade);
    pendingMove.data.set("override_reason", document.getElementById("cascade-override").value);
    const failed = await sendMove(pendingMove);
    if (failed) failedIn("cascade-error", failed);
  });

  document.getElementById("override-confirm").addEventListener("click", async () => {
    if (!pendingMove) return;
    const reason = document.getElementById("override-reason").value.trim();
    if (!reason) {
      failedIn("override-error", { message: "Give a reason, or keep the appointment as it was." });
      return;
    }
    pendingMove.data.set("override_reason", reason);
    closeModal("override-dialog");
    const failed = await sendMove(pendingMove);
    if (failed) {
      if (pendingMove && pendingMove.revert) pendingMove.revert();
      pendingMove = null;
      showAlert(failed.message, "danger");
    }
  });

  // Closing a dialog without confirming leaves everything where it was.
  for (const id of ["cascade-dialog", "override-dialog"]) {
    document.getElementById(id).addEventListener("hidden.bs.modal", () => {
      const shown = ["cascade-dialog", "override-dialog"].some((d) =>
        document.getElementById(d).classList.contains("show"),
      );
      if (pendingMove && !shown) {
        if (pendingMove.revert) pendingMove.revert();
        pendingMove = null;
        showAlert("Nothing was moved.", "info");
        ec.refetchEvents();
      }
    });
  }

  // A drag only proposes the move: the user confirms it (the client is emailed) first.
  let draggedMove = null;

  function onDrop(info) {
    const data = new FormData();
    const props = info.event.extendedProps;
    data.set("starts_at", wall(info.event.start));
    if (cfg.mode === "practitioners") {
      data.set("practitioner", info.newResource ? info.newResource.id : props.practitionerId);
      data.set("room", info.newResource ? "" : props.roomId || "");
    } else {
      data.set("practitioner", props.practitionerId);
      data.set("room", info.newResource ? info.newResource.id : props.roomId || "");
    }
    draggedMove = { sessionId: info.event.id, data, revert: info.revert, undo: undoData(info.oldEvent) };
    const where = info.newResource ? " · " + info.newResource.title : "";
    document.getElementById("move-confirm-text").textContent =
      props.client + ", " + props.label + ": from " + wall(info.oldEvent.start).replace("T", " ") +
      " to " + wall(info.event.start).replace("T", " ") + where + ".";
    modal("move-confirm-dialog").show();
  }

  document.getElementById("move-confirm").addEventListener("click", async () => {
    const move = draggedMove;
    draggedMove = null;
    closeModal("move-confirm-dialog");
    if (!move) return;
    const failed = await sendMove(move);
    if (failed) {
      move.revert();
      showAlert(failed.message, "danger");
    }
  });

  document.getElementById("move-confirm-dialog").addEventListener("hidden.bs.modal", () => {
    if (draggedMove) {
      draggedMove.revert();
      draggedMove = null;
      showAlert("Nothing was moved.", "info");
    }
  });

  // --- Appointment details and actions ------------------------------------------------------
  const sessionBody = document.getElementById("session-dialog-body");

  async function openSession(id) {
    const response = await fetch(urlFor(cfg.sessionUrl, id) + "?fragment=1", { credentials: "same-origin" });
    sessionBody.innerHTML = await response.text();
    htmx.process(sessionBody); // the panel loads its rebooking slots with htmx
    modal("session-dialog").show();
  }

  sessionBody.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.js-action");
    if (!form) return;
    event.preventDefault();
    const data = new FormData(form);
    const errorBox = sessionBody.querySelector("[data-panel-error]");
    if (form.dataset.action === "move") {
      const failed = await sendMove({ sessionId: form.action.match(/sessions\/(\d+)\//)[1], data, revert: null, undo: null });
      if (failed) {
        errorBox.textContent = failed.message;
        errorBox.classList.remove("d-none");
      }
      return;
    }
    const body = await post(form.action, data);
    // Checking in a microneedling client without a current pre-session check: its form is next.
    if (body.next) {
      location.href = body.next;
      return;
    }
    if (body.ok) {
      closeModal("session-dialog");
      showAlert(body.message, "success");
      ec.refetchEvents();
    } else {
      errorBox.textContent = body.message;
      errorBox.classList.remove("d-none");
    }
  });

  // Fourteen columns do not fit a phone: a narrow screen opens on a list of the day.
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  const extra = { mode: cfg.mode };
  if (cfg.practitioner) extra.practitioner = cfg.practitioner;
  const ec = EventCalendar.create(el, {
    view: narrow && !new URLSearchParams(location.search).get("view") ? "listDay" : cfg.view,
    date: cfg.date,
    timeZone: cfg.timeZone,
    locale: "en-GB",
    firstDay: 1,
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    headerToolbar: {
      start: "prev,today,next",
      center: "title",
      end: narrow ? "listDay,resourceTimeGridDay" : "resourceTimeGridDay,resourceTimeGridWeek,listWeek",
    },
    buttonText: { resourceTimeGridDay: "Day", resourceTimeGridWeek: "Week", listDay: "List", listWeek: "List", today: "Today" },
    noEventsContent: "No appointments.",
    resources: cfg.resources,
    datesAboveResources: true,
    eventSources: [
      { url: cfg.eventsUrl, extraParams: extra },
      // Hours not worked, time off and closures, shaded so nobody clicks them to book.
      { url: cfg.closedUrl, extraParams: { mode: cfg.mode } },
    ],
    nowIndicator: true,
    allDaySlot: false,
    slotMinTime: "07:00",
    slotMaxTime: "21:00",
    scrollTime: "08:30",
    slotDuration: "00:30",
    snapDuration: "00:15",
    editable: true,
    eventDurationEditable: false,
    eventClick: (info) => {
      if (info.event.display !== "background") openSession(info.event.id);
    },
    eventDrop: onDrop,
    eventContent: (info) => {
      if (info.event.display === "background") {
        // Hours not worked are plain shading (the legend says so); time off and closures are named.
        const named = !info.event.classNames.includes("closed-hours");
        const text = named ? info.event.title : "";
        return { domNodes: [Object.assign(document.createElement("div"), { className: "ec-closed-label", textContent: text })] };
      }
      const props = info.event.extendedProps;
      const line = (className, textContent) => Object.assign(document.createElement("div"), { className, textContent });
      // Who, then which visit: the grid already shows the time, and a week column is narrow.
      // The whole line (time, status, room) is the tooltip.
      const who = line("appt-client", props.client);
      who.title = [info.timeText, props.client, props.label, props.status, props.room].filter(Boolean).join(" · ");
      const label = line("appt-label", props.label);
      // A list has no time grid: it says the time and the status itself.
      if (info.view.type.startsWith("list")) label.textContent = [info.timeText, props.label, props.status].join(" · ");
      return { domNodes: [who, label] };
    },
    // Clicking shaded time offers no booking: it would only be refused.
    dateClick: (info) => {
      if (closedAt(info)) {
        showAlert("That time is not bookable (" + closedAt(info) + ").", "warning");
        return;
      }
      openBook(info);
    },
  });
  // The reason the clicked slot is closed, or "" (from the background events loaded).
  function closedAt(info) {
    const t = info.date.getTime();
    for (const e of ec.getEvents()) {
      if (e.display !== "background") continue;
      if (info.resource && e.resourceIds && !e.resourceIds.map(String).includes(String(info.resource.id))) continue;
      if (e.start.getTime() <= t && t < e.end.getTime()) return e.title;
    }
    return "";
  }
  // Keyboard shortcuts for a working day; never while typing or with a dialog open.
  const keyViews = {
    d: "resourceTimeGridDay",
    w: "resourceTimeGridWeek",
    l: narrow ? "listDay" : "listWeek",
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, [contenteditable]") || document.querySelector(".modal.show")) return;
    const key = event.key.toLowerCase();
    if (keyViews[key]) ec.setOption("view", keyViews[key]);
    else if (key === "t") ec.setOption("date", new Date());
    else if (event.key === "ArrowLeft") ec.prev();
    else if (event.key === "ArrowRight") ec.next();
    else return;
    event.preventDefault();
  });
  window.clinicCalendar = ec; // for the browser tests and the console
})();
