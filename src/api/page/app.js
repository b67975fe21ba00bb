// The patient's page: reads the single-use token from the URL fragment (never sent to a
// server log), asks what the link asks in the instrument's own wording, and sends the
// answers once. Every question is rendered from the view the server gives
// (/api/v1/self-report/open): radio groups for answer choices, two radios for yes/no, a
// slider for a visual analogue scale, a number field otherwise; a question that follows an
// earlier answer (enable_when) is shown only once that answer is given.
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

  function render(q) {
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
