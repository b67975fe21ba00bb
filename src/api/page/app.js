// The patient's page: reads the single-use token from the URL fragment (never sent to a
// server log), asks what the link asks, and sends the answers once.
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

  function yesNo(item, box) {
    // A yes/no question: two radio buttons in the question's group.
    [["1", "Yes"], ["0", "No"]].forEach(function (choice) {
      const id = "item-" + item.code + "-" + choice[0];
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = item.code;
      input.id = id;
      input.value = choice[0];
      input.dataset.optional = item.optional ? "yes" : "";
      label.append(input, " " + choice[1]);
      box.append(label);
    });
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
    document.getElementById("intro").textContent = recallText[q.recall] || "";
    q.items.forEach(function (item) {
      if (item.max === 1) {
        const box = document.createElement("fieldset");
        box.id = "question-" + item.code;
        const legend = document.createElement("legend");
        legend.textContent = item.label.charAt(0).toUpperCase() + item.label.slice(1) + (item.optional ? " (if it applies)" : "");
        box.append(legend);
        yesNo(item, box);
        box.addEventListener("change", function () { showAsked(q.items); });
        questions.append(box);
        return;
      }
      const id = "item-" + item.code;
      const box = document.createElement("fieldset");
      box.id = "question-" + item.code;
      const legend = document.createElement("legend");
      legend.textContent = q.items.length > 1 ? "Question " + item.code : "Your rating";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = item.label.charAt(0).toUpperCase() + item.label.slice(1);
      const input = document.createElement("input");
      input.type = "number";
      input.id = id;
      input.name = item.code;
      input.min = String(item.min);
      input.max = String(item.max);
      input.step = "1";
      input.required = true;
      input.inputMode = "numeric";
      input.setAttribute("aria-describedby", id + "-range");
      const range = document.createElement("p");
      range.className = "range";
      range.id = id + "-range";
      range.textContent = "A whole number from " + item.min + " to " + item.max + ".";
      box.append(legend, label, input, range);
      questions.append(box);
    });
    showAsked(q.items);
    status.textContent = "";
    form.hidden = false;
    document.getElementById("title").focus();
  }

  function answers() {
    const items = {};
    for (const box of questions.querySelectorAll("fieldset:not([hidden])")) {
      const radios = box.querySelectorAll("input[type=radio]");
      if (!radios.length) continue;
      const chosen = box.querySelector("input[type=radio]:checked");
      if (chosen) {
        items[chosen.name] = Number(chosen.value);
      } else if (!radios[0].dataset.optional) {
        radios[0].focus();
        throw new Error("Please answer yes or no to every question that applies.");
      }
    }
    for (const input of questions.querySelectorAll("fieldset:not([hidden]) input[type=number]")) {
      const value = Number(input.value);
      if (input.value === "" || !Number.isInteger(value) || value < Number(input.min) || value > Number(input.max)) {
        input.focus();
        throw new Error("Please give a whole number from " + input.min + " to " + input.max + " for every question.");
      }
      items[input.name] = value;
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
              const crisis = document.createElement("p");
              crisis.id = "crisis";
              crisis.setAttribute("role", "alert");
              crisis.textContent = received.crisis_text;
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
