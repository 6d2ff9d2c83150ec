// The front desk calendar: EventCalendar (resource time grid, a column per provider) fed by
// /staff/calendar/events. Every change goes to the server, which has the last word: a refused
// drag snaps back and says why. No inline script: this file is loaded by the page (strict CSP).
(function () {
  "use strict";

  const root = document.getElementById("calendar");
  if (!root || typeof EventCalendar === "undefined") return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const message = document.getElementById("calendar-message");
  const panelBody = document.getElementById("panel-body");
  const panelEmpty = document.getElementById("panel-empty");
  const bookForm = document.getElementById("book-form");
  const panel = document.getElementById("panel");
  const urls = root.dataset;

  // The calendar runs in UTC mode on clinic wall times, so a Date's UTC fields are the
  // clinic's wall time: "2026-12-01T09:00:00", read by the server in the clinic's zone.
  const wall = (date) => date.toISOString().slice(0, 19);
  const urlFor = (template, id) => template.replace("/0/", "/" + id + "/");

  function say(text, kind) {
    message.textContent = text;
    message.className = "calendar-message " + (kind === "error" ? "notice notice-error" : "notice notice-success");
  }

  function problem(body, fallback) {
    if (body && body.message) return body.message;
    if (body && body.fields) return Object.values(body.fields).join(" ");
    return fallback;
  }

  async function send(url, options) {
    const headers = Object.assign({"X-CSRFToken": csrf, "Accept": "application/json"}, options.headers || {});
    const response = await fetch(url, Object.assign({}, options, {method: "POST", headers: headers, credentials: "same-origin"}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return {ok: response.ok, status: response.status, body: body};
  }

  const postJson = (url, data) => send(url, {body: JSON.stringify(data), headers: {"Content-Type": "application/json"}});

  async function loadEvents(info) {
    const query = new URLSearchParams({start: wall(info.start).slice(0, 10), end: wall(info.end).slice(0, 10)});
    const response = await fetch(urls.eventsUrl + "?" + query, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
    if (!response.ok) {
      say("The calendar could not be loaded (" + response.status + "). Please reload the page.", "error");
      return [];
    }
    const body = await response.json();
    showHours(body.hours);
    return body.events;
  }

  // The grid runs from the earliest opening to the latest closing of any working window in
  // the days shown (whole hours), so evening hours are never hidden.
  const DEFAULT_HOURS = {start: "07:00", end: "19:00"};
  let shownHours = DEFAULT_HOURS;
  function showHours(hours) {
    const wanted = hours || DEFAULT_HOURS;
    const start = wanted.start.slice(0, 2) + ":00";
    const end = wanted.end.slice(3) === "00" ? wanted.end : String(Number(wanted.end.slice(0, 2)) + 1).padStart(2, "0") + ":00";
    if (start === shownHours.start && end === shownHours.end) return;
    shownHours = {start: start, end: end};
    // After the events are handed over: changing the grid while it loads would ask again.
    setTimeout(function () {
      calendar.setOption("slotMinTime", start);
      calendar.setOption("slotMaxTime", end);
    }, 0);
  }

  async function change(info, url, data, done) {
    const result = await postJson(url, data);
    if (result.ok) {
      say(done, "success");
      calendar.refetchEvents();
      if (panel.dataset.appointment === info.event.id) openAppointment(info.event.id);
    } else {
      info.revert();
      say(problem(result.body, "That change was refused (" + result.status + ")."), "error");
    }
  }

  const calendar = EventCalendar.create(root, {
    view: urls.view,
    date: urls.date,
    timeZone: "UTC",
    firstDay: 1,
    hiddenDays: JSON.parse(urls.hiddenDays || "[]"),
    allDaySlot: false,
    datesAboveResources: true,
    slotMinTime: "07:00",  // until the events say the hours worked (showHours)
    slotMaxTime: "19:00",
    scrollTime: "08:00",
    slotDuration: "00:15",
    slotLabelInterval: "01:00",
    slotHeight: 18,
    height: "auto",
    nowIndicator: false,
    headerToolbar: {start: "prev,next today", center: "title", end: "resourceTimeGridDay,resourceTimeGridWeek"},
    buttonText: {today: "Today", resourceTimeGridDay: "Day", resourceTimeGridWeek: "Week"},
    resources: JSON.parse(urls.resources),
    eventSources: [{events: loadEvents}],
    editable: true,
    eventStartEditable: true,
    eventDurationEditable: true,
    selectable: true,
    // The day and view live in the URL (?date=...&view=day|week), so a reload keeps them.
    datesSet: function (info) {
      const url = new URL(window.location.href);
      url.searchParams.set("date", wall(info.start).slice(0, 10));
      url.searchParams.set("view", info.view.type === "resourceTimeGridDay" ? "day" : "week");
      url.searchParams.delete("open");
      if (url.href !== window.location.href) window.history.replaceState(null, "", url);
    },
    // A provider's name wraps in a narrow week column instead of being cut; the full name is on hover.
    resourceLabelDidMount: function (info) {
      info.el.title = info.resource.title;
    },
    eventDrop: function (info) {
      const data = {start: wall(info.event.start)};
      if (info.newResource) data.provider_id = info.newResource.id;
      change(info, urlFor(urls.moveUrl, info.event.id), data, "Moved " + info.event.extendedProps.patient + ".");
    },
    eventResize: function (info) {
      change(info, urlFor(urls.resizeUrl, info.event.id), {end: wall(info.event.end)},
        "Changed the length of " + info.event.extendedProps.patient + "'s visit.");
    },
    select: function (info) {
      if (!info.resource) return;
      openBooking(info.start, info.resource);
    },
    eventClick: function (info) {
      if (info.event.display === "background") return;
      openAppointment(info.event.id);
    },
  });

  // EventCalendar marks its grid up as an ARIA table whose rows also hold the toolbar and the
  // visits (role=button), which screen readers and axe-core reject; its arrow buttons have an
  // icon only. The grid is read as plain content instead (each visit is a labelled button), and
  // the arrows get names. Re-applied whenever the calendar redraws.
  const TABLE_ROLES = ["table", "rowgroup", "row", "columnheader", "cell"];
  function tidyAria() {
    root.querySelectorAll("[role]").forEach(function (el) {
      if (TABLE_ROLES.includes(el.getAttribute("role"))) {
        el.removeAttribute("role");
        el.removeAttribute("aria-colindex");
        el.removeAttribute("aria-colspan");
      }
    });
    [["ec-prev", "Previous"], ["ec-next", "Next"]].forEach(function (pair) {
      root.querySelectorAll("button." + pair[0]).forEach(function (button) {
        if (button.getAttribute("aria-label") !== pair[1]) button.setAttribute("aria-label", pair[1]);
      });
    });
  }
  tidyAria();
  new MutationObserver(tidyAria).observe(root, {childList: true, subtree: true, attributes: true, attributeFilter: ["role"]});

  // --- the appointment panel ------------------------------------------------------------

  async function openAppointment(id) {
    const response = await fetch(urlFor(urls.panelUrl, id), {credentials: "same-origin"});
    if (!response.ok) {
      say("That appointment could not be opened (" + response.status + ").", "error");
      return;
    }
    bookForm.hidden = true;
    panelEmpty.hidden = true;
    panel.dataset.appointment = String(id);
    panelBody.innerHTML = await response.text();  // server-rendered, escaped by the template
    panelBody.querySelectorAll("form[data-desk-action]").forEach(function (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        const result = await send(form.action, {body: new FormData(form)});
        if (result.ok) {
          say(result.body.message, "success");
          calendar.refetchEvents();
          openAppointment(id);
        } else {
          say(problem(result.body, "That was refused (" + result.status + ")."), "error");
        }
      });
    });
    panel.focus();
  }

  // --- booking a caller -----------------------------------------------------------------

  const query = document.getElementById("book-query");
  const results = document.getElementById("book-results");
  const noResults = document.getElementById("book-results-none");
  let searchTimer = null;

  function clearErrors() {
    bookForm.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
  }

  function openBooking(start, resource) {
    panelBody.innerHTML = "";
    panelEmpty.hidden = true;
    delete panel.dataset.appointment;
    bookForm.hidden = false;
    clearErrors();
    bookForm.elements.start.value = wall(start);
    bookForm.elements.provider_id.value = resource.id;
    const when = start.toLocaleString("en-US", {timeZone: "UTC", weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit"});
    document.getElementById("book-when").textContent = when + " with " + resource.title;
    query.focus();
  }

  function showPatients(patients) {
    results.querySelectorAll("label").forEach(function (label) { label.remove(); });
    noResults.hidden = patients.length > 0;
    noResults.textContent = query.value.trim().length < 2 ? "Type at least 2 characters." : "No patient found: add them below.";
    patients.forEach(function (patient) {
      const label = document.createElement("label");
      label.className = "patient-choice";
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "patient_id";
      radio.value = String(patient.id);
      label.append(radio, " " + patient.name + " · " + patient.phone + (patient.email ? " · " + patient.email : ""));
      results.append(label);
    });
    if (patients.length === 1) results.querySelector("input").checked = true;
  }

  query.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async function () {
      const response = await fetch(urls.lookupUrl + "?" + new URLSearchParams({query: query.value}), {credentials: "same-origin"});
      showPatients(response.ok ? (await response.json()).patients : []);
    }, 200);
  });

  bookForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors();
    const f = bookForm.elements;
    const chosen = bookForm.querySelector('input[name="patient_id"]:checked');
    const data = {service: f.service.value, provider_id: Number(f.provider_id.value), start: f.start.value};
    if (chosen && chosen.value) {
      data.patient_id = Number(chosen.value);
    } else {
      data.patient = {first_name: f.first_name.value, last_name: f.last_name.value, phone: f.phone.value,
        email: f.email.value, sms_opt_in: f.sms_opt_in.checked, language: f.language.value};
    }
    const result = await postJson(urls.bookUrl, data);
    if (result.ok) {
      bookForm.reset();
      showPatients([]);
      calendar.unselect();
      calendar.refetchEvents();
      say("Booked " + result.body.event.extendedProps.patient + ".", "success");
      openAppointment(result.body.event.id);
      return;
    }
    const fields = (result.body && result.body.fields) || {};
    Object.keys(fields).forEach(function (name) {
      const slot = bookForm.querySelector('[data-for="' + name + '"]') || bookForm.querySelector('[data-for="form"]');
      slot.textContent = fields[name];
    });
    say(problem(result.body, "The booking was refused (" + result.status + ")."), "error");
  });

  bookForm.querySelector("[data-close]").addEventListener("click", function () {
    bookForm.hidden = true;
    panelEmpty.hidden = false;
    calendar.unselect();
  });

  if (urls.open) openAppointment(urls.open);
})();
