// The onset console: a front end like any other, on the public API only. Tokens are
// held in this closure, never in storage; every text from the server is set as text.
"use strict";
(() => {
  const session = { access: null, refresh: null, me: null };
  const $ = (id) => document.getElementById(id);
  const views = ["login", "reset", "patients", "patient", "due", "alerts", "cohort", "instruments", "mfa"];
  const patientNames = new Map();
  let patientsCursor = null;

  function say(message) { $("status").textContent = message || ""; }

  function show(view) {
    for (const v of views) $(`${v}-view`).hidden = v !== view;
    for (const b of document.querySelectorAll("#nav button[data-view]")) {
      if (b.dataset.view === view) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
    }
  }

  async function refresh() {
    if (!session.refresh) return false;
    const r = await fetch("/api/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: session.refresh }) });
    if (!r.ok) return false;
    const tokens = await r.json();
    session.access = tokens.access_token;
    session.refresh = tokens.refresh_token;
    return true;
  }

  // A call with the bearer token; an expired token is refreshed once.
  async function call(path, options = {}, retried = false) {
    const headers = Object.assign({ authorization: `Bearer ${session.access}` }, options.headers || {});
    const r = await fetch(path, Object.assign({}, options, { headers }));
    if (r.status === 401 && !retried && (await refresh())) return call(path, options, true);
    if (r.status === 401) { logout("Your session ended: log in again."); throw new Error("logged out"); }
    if (!r.ok) {
      let detail = r.statusText, type = null, errors = null;
      try { ({ detail = detail, type = null, errors = null } = await r.json()); } catch (_) { /* not JSON */ }
      // A refusal's reasons are in its field errors (a Cox model's, a form's).
      if (Array.isArray(errors) && errors.length) detail = errors.map((e) => e.message).join("; ");
      // The clinic requires MFA and this account has none: the one thing to do is enrol.
      if (type === "urn:onset:problem:mfa-enrolment-required") showMfa();
      throw new Error(detail);
    }
    return r;
  }
  const json = async (path, options) => (await call(path, options)).json();

  function cell(row, text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); row.appendChild(td); return td; }
  function clear(tbody) { while (tbody.firstChild) tbody.removeChild(tbody.firstChild); }
  function when(t) { return t ? new Date(t).toLocaleString() : ""; }
  function hours(h) {
    if (h == null) return "";
    if (h < 0) return `${hours(-h)} before`;
    if (h < 1) return `${Math.round(h * 60)} min`;
    if (h < 48) return `${Math.round(h * 10) / 10} h`;
    return `${Math.round(h / 2.4) / 10} d`;
  }

  // An SVG chart from the API, parsed as XML and adopted into the page: its text stays
  // text, and nothing in it runs.
  async function chart(path, into) {
    place(await svgOf(path), into);
  }

  // A chart read, not yet shown: a view drawn from several answers shows them together.
  async function svgOf(path) {
    const text = await (await call(path)).text();
    const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    if (svg.nodeName !== "svg") throw new Error("the chart could not be read");
    return svg;
  }

  function place(svg, into) {
    while (into.firstChild) into.removeChild(into.firstChild);
    into.appendChild(document.importNode(svg, true));
  }

  async function loadPatients(more) {
    const tbody = $("patients").tBodies[0];
    if (!more) { clear(tbody); patientsCursor = null; }
    const query = new URLSearchParams({ limit: "50" });
    if (more && patientsCursor) query.set("cursor", patientsCursor);
    const page = await json(`/api/v1/patients?${query}`);
    for (const p of page.items) {
      patientNames.set(p.id, p.display_name);
      const tr = document.createElement("tr");
      tr.className = "link";
      tr.tabIndex = 0;
      tr.dataset.id = p.id;
      cell(tr, p.display_name); cell(tr, p.sex); cell(tr, p.birth_date); cell(tr, p.diagnosis);
      tr.addEventListener("click", () => openPatient(p.id).catch((e) => say(e.message)));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openPatient(p.id).catch((err) => say(err.message)); });
      tbody.appendChild(tr);
    }
    patientsCursor = page.next_cursor;
    $("more-patients").hidden = !patientsCursor;
  }

  async function openPatient(id) {
    say("");
    show("patient");
    $("patient-name").textContent = patientNames.get(id) || "Patient";
    // The chart is placed with the table, not before it: both are the same ratings, and
    // a chart shown early stood beside the table of the patient opened before.
    const [trajectory, sessions, plans, drawn] = await Promise.all([
      json(`/api/v1/patients/${id}/trajectory`),
      json(`/api/v1/patients/${id}/infusions?limit=200`),
      json(`/api/v1/patients/${id}/home-plans?limit=50`),
      svgOf(`/api/v1/patients/${id}/trajectory.svg`),
    ]);
    place(drawn, $("trajectory-chart"));
    showSessions(sessions.items);
    showPlans(plans.items);
    const tbody = $("ratings").tBodies[0];
    clear(tbody);
    for (const series of trajectory.series) {
      for (const r of series.ratings) {
        const tr = document.createElement("tr");
        cell(tr, series.instrument); cell(tr, when(r.rated_at)); cell(tr, hours(r.hours_since_first_infusion));
        // A PHQ-9 paper total below 25 says nothing about item 9: never read it as "no".
        cell(tr, r.item_9_unknown ? `${r.total} (item 9, self-harm: unknown)` : r.total);
        // Percent change is positive for improvement: shown as the score's own direction.
        const pct = r.percent_change == null ? null : Math.round(r.percent_change);
        cell(tr, pct == null ? "" : `${pct > 0 ? "−" : pct < 0 ? "+" : ""}${Math.abs(pct)} %`);
        cell(tr, r.response || ""); cell(tr, r.early_improvement ? "yes" : "");
        tbody.appendChild(tr);
      }
    }
  }

  // The clinic's sessions and the doses taken at home, in the order they were taken.
  function showSessions(items) {
    const tbody = $("sessions").tBodies[0];
    clear(tbody);
    const ordered = items.slice().sort((a, b) => a.started_at.localeCompare(b.started_at));
    for (const s of ordered) {
      const tr = document.createElement("tr");
      const home = s.recorded_by === "patient";
      if (home) tr.className = "home-dose";
      cell(tr, s.status === "active" ? s.series_number : ""); cell(tr, when(s.started_at)); cell(tr, s.drug); cell(tr, s.route);
      cell(tr, `${s.dose_mg} mg`); cell(tr, home ? "at home" : s.guidance === "self_guided" ? "self-guided" : "clinic");
      cell(tr, home ? "patient (dose link)" : "staff"); cell(tr, s.status === "active" ? "" : "entered in error");
      tbody.appendChild(tr);
    }
  }

  function showPlans(items) {
    const tbody = $("home-plans").tBodies[0];
    clear(tbody);
    for (const p of items) {
      const tr = document.createElement("tr");
      cell(tr, `${p.dose_mg} mg ${p.drug}`); cell(tr, p.route); cell(tr, `${p.doses_used} of ${p.doses_allowed}`); cell(tr, p.doses_left);
      cell(tr, when(p.last_dose_at)); cell(tr, p.next_allowed_at ? when(p.next_allowed_at) : "none"); cell(tr, when(p.ends_at));
      cell(tr, p.status === "active" ? "active" : "entered in error");
      tbody.appendChild(tr);
    }
    if (!items.length) { const tr = document.createElement("tr"); cell(tr, "No home plan.").colSpan = 8; tbody.appendChild(tr); }
  }

  async function loadDue() {
    const page = await json("/api/v1/due?limit=100");
    const tbody = $("due").tBodies[0];
    clear(tbody);
    for (const d of page.items) {
      const tr = document.createElement("tr");
      cell(tr, patientNames.get(d.patient_id) || d.patient_id); cell(tr, d.instrument); cell(tr, when(d.due_at)); cell(tr, when(d.closes_at)); cell(tr, d.status);
      tbody.appendChild(tr);
    }
    if (!page.items.length) say("Nothing is due.");
  }

  async function acknowledge(alert) {
    const note = window.prompt("What was done about this alert?");
    if (!note) return;
    await json(`/api/v1/alerts/${alert.id}/acknowledge`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ note }) });
    await loadAlerts();
  }

  async function loadAlerts() {
    const page = await json("/api/v1/alerts?limit=100");
    const tbody = $("alerts").tBodies[0];
    clear(tbody);
    for (const a of page.items) {
      const tr = document.createElement("tr");
      cell(tr, when(a.raised_at)); cell(tr, a.kind); cell(tr, a.level); cell(tr, patientNames.get(a.patient_id) || a.patient_id); cell(tr, a.status);
      const action = cell(tr, "");
      if (a.status === "open") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "Acknowledge";
        b.addEventListener("click", () => acknowledge(a).catch((e) => say(e.message)));
        action.appendChild(b);
      }
      tbody.appendChild(tr);
    }
    if (!page.items.length) say("No alerts.");
  }

  // The instruments outcome rules judge, the clinic's own among them, fill the choice.
  async function fillCohortInstruments() {
    const select = $("cohort-instrument");
    if (select.dataset.filled) return;
    const catalogue = await json("/api/v1/instruments");
    const chosen = select.value;
    clear(select);
    for (const d of catalogue.items.filter((d) => d.outcomes.rules !== "none")) {
      const option = document.createElement("option");
      option.value = d.code;
      option.textContent = d.kind === "clinic" ? `${d.name} (your clinic's)` : d.name;
      select.appendChild(option);
    }
    select.value = chosen;
    select.dataset.filled = "yes";
  }

  async function loadCohort() {
    await fillCohortInstruments();
    const query = new URLSearchParams({ instrument: $("cohort-instrument").value, endpoint: $("cohort-endpoint").value });
    await chart(`/api/v1/analytics/onset.svg?${query}`, $("cohort-chart"));
  }

  // The instrument catalogue; an admin pastes the clinic's licensed wording of one.
  let wordingFor = null;
  async function loadInstruments() {
    const catalogue = await json("/api/v1/instruments");
    const tbody = $("instruments").tBodies[0];
    clear(tbody);
    for (const d of catalogue.items) {
      const tr = document.createElement("tr");
      cell(tr, d.kind === "clinic" ? `${d.title} (your clinic's, ${d.code})` : d.title); cell(tr, d.version); cell(tr, d.rater);
      cell(tr, d.text_source === "bundled" ? "bundled (free to reproduce)" : d.text_version ? `your clinic's, version ${d.text_version}` : "licensed: not supplied");
      cell(tr, d.self_reportable ? (d.wording_available ? "yes" : "not until the wording is supplied") : "no (clinician-rated)");
      const action = cell(tr, "");
      if (d.text_source === "clinic" && session.me.role === "admin") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = d.text_version ? "Change the wording" : "Supply the wording";
        b.addEventListener("click", () => editWording(d));
        action.appendChild(b);
      }
      if (d.kind === "clinic" && session.me.role === "admin") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "Make a new version";
        b.addEventListener("click", () => editDefinition(d));
        action.appendChild(b);
      }
      tbody.appendChild(tr);
    }
    $("define-open").hidden = session.me.role !== "admin";
  }

  // A clinic's own instrument is its definition, as JSON (DESIGN.md §9); a change is the
  // next version, and ratings keep theirs.
  let definitionOf = null;
  function editDefinition(d) {
    definitionOf = d ? d.code : null;
    const shown = d ? Object.fromEntries(Object.entries(d).filter(([k]) => !["kind", "version", "wording_available", "text_version", "license_note", "safety"].includes(k))) : {
      code: "x_", title: "", name: "", rater: "self", recall_default: "NOW", recalls: ["NOW"], self_reportable: true, text_source: "bundled",
      items: [{ code: "1", short_label: "", text: "", type: "choice", min: 0, max: 3, options: [0, 1, 2, 3].map((v) => ({ value: v, label: "" })) }],
      scoring: "sum", bands: [], outcomes: { rules: "definition", direction: "higher_is_worse", response: { kind: "points", threshold: 1 }, partial_response: null, remission: null },
    };
    $("define-title").textContent = d ? `${d.title}: the next version` : "Your clinic's own instrument";
    $("define-json").value = JSON.stringify(shown, null, 2);
    $("define-form").hidden = false;
    $("define-json").focus();
  }

  $("define-open").addEventListener("click", () => editDefinition(null));
  $("define-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try { body = JSON.parse($("define-json").value); } catch (e) { say(`Not saved: the definition is not JSON (${e.message}).`); return; }
    const path = definitionOf ? `/api/v1/clinic/instruments/${definitionOf}` : "/api/v1/clinic/instruments";
    const r = await fetch(path, { method: definitionOf ? "PUT" : "POST", headers: { authorization: `Bearer ${session.access}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (r.ok) {
      const saved = await r.json();
      $("define-form").hidden = true;
      $("cohort-instrument").dataset.filled = "";
      await loadInstruments();
      say(`Saved: ${saved.title}, version ${saved.version}.`);
    } else if (r.status === 422) {
      const problem = await r.json();
      say(`Not saved: ${problem.errors.map((e) => `${e.field} ${e.message}`).join("; ")}`);
    } else {
      const problem = await r.json().catch(() => ({}));
      say(`Not saved (${r.status}): ${problem.detail || ""}`);
    }
  });

  function input(id, labelText, value) {
    const label = document.createElement("label");
    label.textContent = labelText;
    const field = document.createElement("input");
    field.id = id;
    field.maxLength = 2000;
    field.value = value || "";
    label.appendChild(field);
    return label;
  }

  // One field per item's question and per answer label the definition has.
  function editWording(d) {
    wordingFor = d;
    $("wording-title").textContent = `${d.title}: your clinic's wording`;
    $("wording-licence").value = d.license_note || "";
    const items = $("wording-items");
    while (items.firstChild) items.removeChild(items.firstChild);
    for (const item of d.items) {
      const box = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = `Item ${item.code}: ${item.short_label}`;
      box.appendChild(legend);
      box.appendChild(input(`wording-${item.code}`, "Question", item.text));
      if (item.type === "choice") {
        for (const option of item.options) box.appendChild(input(`wording-${item.code}-${option.value}`, `Answer ${option.value}`, option.label));
      }
      items.appendChild(box);
    }
    $("wording-form").hidden = false;
    $(`wording-${d.items[0].code}`).focus();
  }

  $("wording-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const d = wordingFor;
    const items = {};
    for (const item of d.items) {
      const options = {};
      if (item.type === "choice") for (const option of item.options) options[option.value] = $(`wording-${item.code}-${option.value}`).value;
      items[item.code] = { text: $(`wording-${item.code}`).value, options };
    }
    const body = { license_note: $("wording-licence").value || null, items };
    const r = await fetch(`/api/v1/clinic/instruments/${d.code}/text`, { method: "PUT", headers: { authorization: `Bearer ${session.access}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (r.ok) {
      const saved = await r.json();
      $("wording-form").hidden = true;
      await loadInstruments();
      say(`Saved: ${saved.title}, your clinic's wording version ${saved.text_version}.`);
    } else if (r.status === 422) {
      const problem = await r.json();
      say(`Not saved: ${problem.errors.map((e) => `${e.field} ${e.message}`).join("; ")}`);
    } else {
      say(`Not saved (${r.status}).`);
    }
  });

  const loaders = { patients: () => loadPatients(false), due: loadDue, alerts: loadAlerts, cohort: loadCohort, instruments: loadInstruments, mfa: async () => showMfa() };
  function open(view) {
    say("");
    show(view);
    loaders[view]().catch((e) => say(e.message));
  }

  function logout(message) {
    if (session.refresh) fetch("/api/v1/auth/logout", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: session.refresh }) }).catch(() => {});
    session.access = session.refresh = session.me = null;
    $("nav").hidden = true;
    show("login");
    say(message);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const r = await fetch("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: $("email").value, password: $("password").value }) });
    if (r.status === 401) {
      const problem = await r.json();
      // The password was right and the account uses MFA: ask for the second factor.
      if (problem.type === "urn:onset:problem:mfa-required") {
        mfaToken = problem.mfa_token;
        $("password").value = "";
        $("login-form").hidden = true;
        $("mfa-form").hidden = false;
        $("mfa-code").focus();
        return;
      }
    }
    if (!r.ok) { say(r.status === 429 ? "Too many attempts: wait a minute." : "The e-mail or password is not right."); return; }
    await start(await r.json());
  });
  // The second step of a login with MFA: the token of the first, and a code.
  let mfaToken = null;
  $("mfa-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const r = await fetch("/api/v1/auth/login/mfa", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ mfa_token: mfaToken, code: $("mfa-code").value.trim() }) });
    $("mfa-code").value = "";
    if (!r.ok) { say(r.status === 429 ? "Too many attempts: wait a minute." : "That code is not right, or has been used: try the next one, or log in again."); return; }
    mfaToken = null;
    $("mfa-form").hidden = true;
    $("login-form").hidden = false;
    await start(await r.json());
  });
  function showMfa() {
    show("mfa");
    $("mfa-state").textContent = session.me && session.me.mfa_enabled
      ? "MFA is on for this account."
      : "MFA is off for this account. Your clinic may require it: until it is on, you can only set it up.";
    $("mfa-start").hidden = !!(session.me && session.me.mfa_enabled);
  }
  $("mfa-start").addEventListener("click", async () => {
    const enrolment = await json("/api/v1/me/mfa/totp", { method: "POST" });
    $("mfa-secret").textContent = enrolment.secret;
    $("mfa-uri").textContent = enrolment.otpauth_uri;
    $("mfa-enrol").hidden = false;
    $("mfa-start").hidden = true;
    $("mfa-confirm-code").focus();
  });
  $("mfa-confirm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try {
      const done = await json("/api/v1/me/mfa/totp/confirm", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: $("mfa-confirm-code").value.trim() }) });
      const list = $("mfa-recovery-codes");
      while (list.firstChild) list.removeChild(list.firstChild);
      for (const code of done.recovery_codes) { const li = document.createElement("li"); li.textContent = code; list.appendChild(li); }
      $("mfa-enrol").hidden = true;
      $("mfa-recovery").hidden = false;
      session.me = await json("/api/v1/me");
      $("mfa-state").textContent = "MFA is on for this account.";
    } catch (e) { say(e.message); }
  });
  async function start(tokens) {
    session.access = tokens.access_token;
    session.refresh = tokens.refresh_token;
    $("password").value = "";
    session.me = await json("/api/v1/me");
    $("who").textContent = `${session.me.name} (${session.me.role})`;
    // Researchers see the cohort only: patients, due ratings and alerts are clinical.
    const clinical = session.me.role !== "researcher";
    for (const b of document.querySelectorAll("#nav button[data-view]")) b.hidden = !clinical && !["cohort", "instruments", "mfa"].includes(b.dataset.view);
    $("nav").hidden = false;
    open(clinical ? "patients" : "cohort");
  }
  // An admin's reset link: `/#reset=<token>`. The token leaves the address bar at once
  // (no history, no bookmark) and is kept in this closure until it is used.
  let resetToken = null;
  if (window.location.hash.startsWith("#reset=")) {
    resetToken = window.location.hash.slice("#reset=".length);
    history.replaceState(null, "", window.location.pathname);
    show("reset");
  }
  $("reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const password = $("new-password").value;
    if (password !== $("new-password-again").value) { say("The two passwords differ."); return; }
    const r = await fetch("/api/v1/auth/password-reset", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: resetToken, new_password: password }) });
    if (r.status === 422) {
      let detail = "The password is too weak.";
      try { detail = `The new password ${(await r.json()).errors[0].message}.`; } catch (_) { /* not JSON */ }
      say(detail);
      return;
    }
    $("new-password").value = $("new-password-again").value = "";
    resetToken = null;
    show("login");
    say(r.status === 204 ? "Your password is set: log in with it." : r.status === 429 ? "Too many attempts: wait a minute." : "This link cannot be used: it may have been used or have expired. Ask your clinic's admin for a new one.");
  });
  for (const b of document.querySelectorAll("#nav button[data-view]")) b.addEventListener("click", () => open(b.dataset.view));
  $("logout").addEventListener("click", () => logout("Logged out."));
  $("more-patients").addEventListener("click", () => loadPatients(true).catch((e) => say(e.message)));
  $("cohort-form").addEventListener("submit", (event) => { event.preventDefault(); loadCohort().catch((e) => say(e.message)); });
  // The hazard ratios of the chosen covariates, for the instrument and endpoint shown.
  $("cox-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const covariates = [...document.querySelectorAll("#cox-form input[name=covariate]:checked")].map((c) => c.value).join(",");
    const query = new URLSearchParams({ instrument: $("cohort-instrument").value, endpoint: $("cohort-endpoint").value, covariates });
    clear($("cox-chart"));
    chart(`/api/v1/analytics/cox.svg?${query}`, $("cox-chart")).catch((e) => say(`No model: ${e.message}`));
  });
})();
