// sanalpos back office: the only script of the pages (the CSP allows no inline code).
"use strict";

// Online Tahsilat: the installment options of the card, fetched as its BIN is typed.
function setupCollectForm(form) {
  const card = form.querySelector("#card_number");
  const amount = form.querySelector("#amount");
  const currency = form.querySelector("#currency");
  const pos = form.querySelector("#pos_id");
  const select = form.querySelector("#installments");
  const hint = form.querySelector("#installment-hint");
  let lastQuery = "";
  let timer = null;

  async function refresh() {
    const digits = card.value.replace(/\D/g, "");
    if (digits.length < 8 || amount.value.trim() === "") {
      return;
    }
    const params = new URLSearchParams({
      bin: digits.slice(0, 8),
      amount: amount.value.trim(),
      currency: currency ? currency.value : "TRY",
      pos_id: pos ? pos.value : "",
    });
    const query = params.toString();
    if (query === lastQuery) {
      return;
    }
    lastQuery = query;
    try {
      const answer = await fetch("/ui/api/installments?" + query, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!answer.ok) {
        return;
      }
      const data = await answer.json();
      if (query !== lastQuery) {
        return; // a newer query is on its way
      }
      const chosen = select.value;
      select.textContent = "";
      const options = data.options && data.options.length ? data.options : [{ installments: 1, label: select.dataset.single }];
      for (const option of options) {
        const element = document.createElement("option");
        element.value = String(option.installments);
        element.textContent = option.label;
        if (element.value === chosen) {
          element.selected = true;
        }
        select.appendChild(element);
      }
      select.dataset.loaded = digits.slice(0, 8);
      if (hint && data.error) {
        hint.textContent = data.error;
      }
    } catch (e) {
      // The single payment stays available; the provider may be slow.
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  card.addEventListener("input", later);
  amount.addEventListener("change", later);
  if (currency) currency.addEventListener("change", later);
  // The currency stays written beside the amount, so nobody charges dollars by mistake.
  const unit = form.querySelector("#amount-currency");
  if (currency && unit) {
    currency.addEventListener("change", function () { unit.textContent = currency.value; });
  }
  if (pos) pos.addEventListener("change", later);

  // One submission per rendered form (the server refuses a second charge anyway).
  form.addEventListener("submit", function () {
    const button = form.querySelector("#collect-submit");
    setTimeout(function () { button.disabled = true; }, 0);
  });
}

// A customer reference field: the company's references starting with what is typed,
// fetched into the field's list (the page brings only the first ones).
function setupSuggestions(input) {
  const list = document.getElementById(input.getAttribute("list"));
  if (!list) {
    return;
  }
  let lastQuery = null;
  let timer = null;
  async function refresh() {
    const query = input.value.trim();
    if (query === lastQuery) {
      return;
    }
    lastQuery = query;
    try {
      const answer = await fetch(input.dataset.suggest + "?" + new URLSearchParams({ q: query }), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!answer.ok || query !== lastQuery) {
        return;
      }
      const data = await answer.json();
      if (query !== lastQuery) {
        return;
      }
      list.textContent = "";
      for (const ref of data.refs || []) {
        const option = document.createElement("option");
        option.value = ref;
        list.appendChild(option);
      }
    } catch (e) {
      // The list the page brought stays.
    }
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  for (const input of document.querySelectorAll("input[data-suggest]")) {
    setupSuggestions(input);
  }
  const form = document.getElementById("collect-form");
  if (form) {
    setupCollectForm(form);
  }
  const switcher = document.getElementById("company-select");
  if (switcher) {
    switcher.addEventListener("change", function () { switcher.form.submit(); });
  }
});
