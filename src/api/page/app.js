// The patient's page: reads the single-use token from the URL fragment (never sent to a
// server log), asks what the link asks in the instrument's own wording, and sends the
// answers once. Every question is rendered from the view the server gives
// (/api/v1/self-report/open): radio groups for answer choices, two radios for yes/no, a
// slider for a visual analogue scale, a number field otherwise; a question that follows an
// earlier answer (enable_when) is shown only once that answer is given. A dose link
// (`kind: dose`) shows the pre-dose check instead, then "I took it at …"; every gate is
// the server's, the page only shows what it answers.
"use strict";

(function () {
  const token = window.location.hash.slice(1);
  // The token leaves the address bar at once: it is not kept in history or bookmarks.
  history.replaceState(null, "", window.location.pathname);
  const status = document.getElementById("status");
  const form = document.getElementById("rating");
  const questions = document.getElementById("questions");
  const problem = document.getElementById("problem");
  const send = document.getElementById("send");

  const unusable = "This link cannot be used. It may have been used already or have expired. Please contact your clinic.";
  const recallText = {
    NOW: "Answer for right now.", P24H: "Answer for the past 24 hours.", P7D: "Answer for the past 7 days.",
    P14D: "Answer for the past 2 weeks.", P1M: "Answer for the past month.",
  };

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      referrerPolicy: "no-referrer",
      cache: "no-store",
    });
  }

  function fail(text) {
    form.hidden = true;
    status.textContent = text;
  }

  function element(tag, properties, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, properties || {});
    node.append(...children);
    return node;
  }

  // The question as the instrument words it; its neutral label where no wording exists.
  function wording(item) {
    const text = item.text || item.label.charAt(0).toUpperCase() + item.label.slice(1);
    return item.optional ? text + " (if it applies)" : text;
  }

  // One radio per answer, each with its label: every option of the scale is visible.
  function radios(item, box) {
    item.options.forEach(function (option) {
      const input = element("input", { type: "radio", name: item.code, id: "item-" + item.code + "-" + option.value, value: String(option.value) });
      input.dataset.optional = item.optional ? "yes" : "";
      box.append(element("label", { className: "choice" }, input, " " + (option.label || String(option.value))));
    });
  }

  // A visual analogue scale: 0–100 between its two anchors, unset until the patient moves
  // it (no value is sent for a slider never touched), the number shown beside it.
  function slider(item, box, legendId) {
    const input = element("input", { type: "range", min: String(item.min), max: String(item.max), step: "1", value: String(Math.round((item.min + item.max) / 2)), name: item.code, id: "item-" + item.code });
    input.dataset.moved = "";
    input.setAttribute("aria-labelledby", legendId);
    input.setAttribute("aria-valuetext", "not set yet");
    const shown = element("output", { id: "item-" + item.code + "-value", className: "vas-value" }, "Not set yet: move the slider.");
    shown.htmlFor = input.id;
    input.addEventListener("input", function () {
      input.dataset.moved = "yes";
      problem.hidden = true;
      shown.textContent = "Your answer: " + input.value;
      input.setAttribute("aria-valuetext", input.value);
    });
    const anchors = element("div", { className: "anchors" },
      element("span", {}, String(item.min) + " — " + item.anchors.min_label),
      element("span", {}, String(item.max) + " — " + item.anchors.max_label));
    box.append(input, anchors, shown);
  }

  function numberField(item, box) {
    const id = "item-" + item.code;
    const input = element("input", { type: "number", id: id, name: item.code, min: String(item.min), max: String(item.max), step: "1", inputMode: "numeric" });
    input.setAttribute("aria-describedby", id + "-range");
    box.append(element("label", { htmlFor: id }, "Your answer"), input,
      element("p", { className: "range", id: id + "-range" }, "A whole number from " + item.min + " to " + item.max + "."));
  }

  // Whether a question is asked now: every answer it follows (enable_when) was given.
  function enabled(item) {
    return (item.enable_when || []).every(function (when) {
      const chosen = questions.querySelector("input[name='" + when.item + "']:checked");
      return chosen !== null && Number(chosen.value) === when.equals;
    });
  }

  // Shows the questions the answers so far ask, in order, and hides (and clears) the
  // rest, so a question the instrument does not ask is never seen nor sent.
  function showAsked(items) {
    items.forEach(function (item) {
      const box = document.getElementById("question-" + item.code);
      const asked = enabled(item);
      if (!asked) {
        box.querySelectorAll("input:checked").forEach(function (input) { input.checked = false; });
      }
      box.hidden = !asked;
      box.disabled = !asked;
    });
  }

  // What a no-go means to the patient, in plain words.
  function reasonText(decision) {
    const next = decision.next_allowed_at ? new Date(decision.next_allowed_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
    return {
      vitals_out_of_range: "Your blood pressure or pulse is above the limit your clinic set for taking a dose.",
      monitor_absent: "A sober adult needs to be with you before you take your dose.",
      too_soon: "It is too soon after your last dose." + (next ? " Your next dose is allowed from " + next + "." : ""),
      no_doses_left: "There are no doses left on your plan.",
      plan_not_active: "Your dose plan is not in force now.",
    }[decision.reason] || "You cannot take your dose now.";
  }

  function showProblem(node, text) {
    node.textContent = text;
    node.hidden = false;
  }

  // The time input's value as an instant: today at that time, or yesterday if that would
  // be later than now (a dose taken just before midnight, recorded just after).
  function takenAt(value) {
    const [hours, minutes] = value.split(":").map(Number);
    const at = new Date();
    at.setHours(hours, minutes, 0, 0);
    if (at.getTime() > Date.now() + 60000) at.setDate(at.getDate() - 1);
    return at.toISOString();
  }

  function nowAsTime() {
    const now = new Date();
    return String(now.getHours()).padStart(2, "0") + ":" + String(now.getMinutes()).padStart(2, "0");
  }

  function renderDose(view) {
    const section = document.getElementById("dose");
    const check = document.getElementById("check");
    const nogo = document.getElementById("nogo");
    const taken = document.getElementById("taken");
    const checkProblem = document.getElementById("check-problem");
    const takenProblem = document.getElementById("taken-problem");
    document.getElementById("title").textContent = "Your dose at home";
    document.title = "Your dose at home";
    document.getElementById("dose-what").textContent = "Your plan: " + view.dose_mg + " mg " + view.drug + ", " + view.route +
      ". Before you take it, measure your blood pressure and pulse and answer below.";
    document.getElementById("monitor-box").hidden = !view.monitor_required;
    const vasBox = element("fieldset", { id: "question-vas" }, element("legend", { id: "question-vas-text" }, (view.vas.text || view.vas.label) + " (optional)"));
    slider(Object.assign({}, view.vas, { code: "vas" }), vasBox, "question-vas-text");
    document.getElementById("vas-question").append(vasBox);

    function showTaken() {
      check.hidden = true;
      nogo.hidden = true;
      taken.hidden = false;
      document.getElementById("taken-at").value = nowAsTime();
      document.getElementById("go").focus();
    }

    check.addEventListener("submit", function (event) {
      event.preventDefault();
      checkProblem.hidden = true;
      const body = { token: token, monitor_present: document.getElementById("monitor").checked };
      for (const field of ["systolic", "diastolic", "heart_rate"]) {
        const input = document.getElementById(field);
        const value = Number(input.value);
        if (input.value === "" || !Number.isInteger(value) || value < Number(input.min) || value > Number(input.max)) {
          input.focus();
          showProblem(checkProblem, "Please give each reading as a whole number (from " + input.min + " to " + input.max + ").");
          return;
        }
        body[field] = value;
      }
      const vas = document.getElementById("item-vas");
      if (vas.dataset.moved) body.vas = Number(vas.value);
      document.getElementById("check-send").disabled = true;
      post("/api/v1/self-report/dose-check", body)
        .then(function (response) {
          document.getElementById("check-send").disabled = false;
          if (response.status === 200) return response.json().then(function (decision) {
            if (decision.go) return showTaken();
            check.hidden = true;
            document.getElementById("nogo-reason").textContent = reasonText(decision);
            document.getElementById("nogo-advice").textContent = decision.advice || "";
            // Waiting for a later dose, or a plan that is over, is not helped by measuring again.
            document.getElementById("check-again").hidden = !["vitals_out_of_range", "monitor_absent"].includes(decision.reason);
            nogo.hidden = false;
          });
          if (response.status === 422) return showProblem(checkProblem, "Please check your readings and try again.");
          if (response.status === 429) return showProblem(checkProblem, "Too many tries. Please wait a few minutes.");
          return response.status === 409 ? showProblem(checkProblem, "This link cannot take more checks. Please contact your clinic.") : fail(unusable);
        })
        .catch(function () {
          document.getElementById("check-send").disabled = false;
          showProblem(checkProblem, "Your readings could not be sent. Please check your connection and try again.");
        });
    });

    document.getElementById("check-again").addEventListener("click", function () {
      nogo.hidden = true;
      check.hidden = false;
      document.getElementById("systolic").focus();
    });

    taken.addEventListener("submit", function (event) {
      event.preventDefault();
      takenProblem.hidden = true;
      const value = document.getElementById("taken-at").value;
      if (!value) return showProblem(takenProblem, "Please give the time you took your dose.");
      document.getElementById("taken-send").disabled = true;
      post("/api/v1/self-report/dose", { token: token, taken_at: takenAt(value) })
        .then(function (response) {
          document.getElementById("taken-send").disabled = false;
          if (response.status === 201) return response.json().then(function (recorded) {
            section.hidden = true;
            const when = new Date(recorded.taken_at).toLocaleTimeString([], { timeStyle: "short" });
            fail("Thank you. Your dose at " + when + " is recorded. Your clinic may send you short questions over the next hours and days.");
          });
          if (response.status === 422) return showProblem(takenProblem, "Please give a time from your check until now.");
          if (response.status === 409) return response.json().then(function (refused) {
            if (refused.reason) return showProblem(takenProblem, reasonText(refused));
            taken.hidden = true;
            check.hidden = false;
            showProblem(checkProblem, "Your check was more than 30 minutes ago. Please measure and check again.");
          });
          return fail(unusable);
        })
        .catch(function () {
          document.getElementById("taken-send").disabled = false;
          showProblem(takenProblem, "This could not be sent. Please check your connection and try again.");
        });
    });

    status.textContent = "";
    section.hidden = false;
    if (view.go_until && new Date(view.go_until).getTime() > Date.now()) showTaken();
    else document.getElementById("title").focus();
  }

  function render(q) {
    if (q.kind === "dose") return renderDose(q);
    document.getElementById("instrument").textContent = q.title;
    document.getElementById("preamble").textContent = q.preamble || "";
    document.getElementById("intro").textContent = recallText[q.recall] || "";
    q.items.forEach(function (item) {
      const legendId = "question-" + item.code + "-text";
      const box = element("fieldset", { id: "question-" + item.code }, element("legend", { id: legendId }, wording(item)));
      if (item.type === "choice" || item.type === "yes_no") radios(item, box);
      else if (item.type === "vas") slider(item, box, legendId);
      else numberField(item, box);
      questions.append(box);
    });
    questions.addEventListener("change", function () { showAsked(q.items); });
    showAsked(q.items);
    status.textContent = "";
    form.hidden = false;
    document.getElementById("title").focus();
  }

  function answers() {
    const items = {};
    for (const box of questions.querySelectorAll("fieldset:not([hidden])")) {
      const radiosHere = box.querySelectorAll("input[type=radio]");
      const range = box.querySelector("input[type=range]");
      const number = box.querySelector("input[type=number]");
      if (radiosHere.length) {
        const chosen = box.querySelector("input[type=radio]:checked");
        if (chosen) {
          items[chosen.name] = Number(chosen.value);
        } else if (!radiosHere[0].dataset.optional) {
          radiosHere[0].focus();
          throw new Error("Please answer every question.");
        }
      } else if (range) {
        if (!range.dataset.moved) {
          range.focus();
          throw new Error("Please move the slider to your answer.");
        }
        items[range.name] = Number(range.value);
      } else if (number) {
        const value = Number(number.value);
        if (number.value === "" || !Number.isInteger(value) || value < Number(number.min) || value > Number(number.max)) {
          number.focus();
          throw new Error("Please give a whole number from " + number.min + " to " + number.max + ".");
        }
        items[number.name] = value;
      }
    }
    return items;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    problem.hidden = true;
    let items;
    try {
      items = answers();
    } catch (e) {
      problem.textContent = e.message;
      problem.hidden = false;
      return;
    }
    send.disabled = true;
    post("/api/v1/self-report", { token: token, items: items })
      .then(function (response) {
        if (response.status === 201) {
          return response.json().then(function (received) {
            fail("Thank you. Your answers were received.");
            if (received.crisis_text) {
              const crisis = element("p", { id: "crisis" }, received.crisis_text);
              crisis.setAttribute("role", "alert");
              status.after(crisis);
            }
          });
        } else if (response.status === 422) {
          problem.textContent = "Please check your answers and send them again.";
          problem.hidden = false;
          send.disabled = false;
        } else {
          fail(unusable);
        }
      })
      .catch(function () {
        problem.textContent = "Your answers could not be sent. Please check your connection and try again.";
        problem.hidden = false;
        send.disabled = false;
      });
  });

  if (!token) {
    fail(unusable);
    return;
  }
  post("/api/v1/self-report/open", { token: token })
    .then(function (response) {
      if (!response.ok) throw new Error("unusable");
      return response.json();
    })
    .then(render)
    .catch(function () { fail(unusable); });
})();
