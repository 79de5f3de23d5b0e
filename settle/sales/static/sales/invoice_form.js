// Progressive enhancement for the invoice form; the form works without it.
(function () {
  "use strict";
  var form = document.getElementById("invoice-form");
  if (!form) return;
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var clientDefaults = data("client-default-processors") || {};
  var paidAccounts = (data("paid-at-issue-accounts") || []).map(String);
  var client = form.querySelector("[name=client]");
  var account = form.querySelector("[name=receivable_account]");
  var processor = form.querySelector("[name=card_processor]");
  var processorField = document.getElementById("processor-field");
  var reason = document.getElementById("paid-at-issue-reason");

  function syncPaidAtIssue() {
    var paid = account && paidAccounts.indexOf(account.value) !== -1;
    if (processorField) processorField.hidden = paid;
    if (reason) reason.hidden = !paid;
  }
  if (account) account.addEventListener("change", syncPaidAtIssue);
  if (client && processor) {
    client.addEventListener("change", function () {
      if (client.value in clientDefaults) processor.value = String(clientDefaults[client.value]);
    });
  }
  syncPaidAtIssue();

  var addButton = document.getElementById("add-line");
  var template = document.getElementById("empty-line");
  var total = form.querySelector("[name=lines-TOTAL_FORMS]");
  var max = form.querySelector("[name=lines-MAX_NUM_FORMS]");
  if (addButton && template && total) {
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var n = parseInt(total.value, 10);
      if (max && n >= parseInt(max.value, 10)) return;
      var html = template.innerHTML.replace(/__prefix__/g, String(n)).replace(/__number__/g, String(n + 1));
      var body = document.querySelector("#invoice-lines tbody");
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(n + 1);
      if (running) {
        body.lastElementChild.querySelectorAll("[data-running]").forEach(function (el) { el.hidden = false; });
        recalc();
      }
    });
  }

  // Running totals as lines are typed (S2). Exact decimal arithmetic on BigInt, rounded half
  // up per line as the books do; the saved invoice is computed again on the server.
  var running = false;
  var table = document.getElementById("invoice-lines");
  var currency = table && table.dataset.currency;
  if (!table || !currency || typeof BigInt !== "function" || !window.Intl) return;
  var formatter = new Intl.NumberFormat("en-US", { style: "currency", currency: currency });
  var exponent = formatter.resolvedOptions().maximumFractionDigits;
  var TEN = BigInt(10);

  function pow10(n) { var r = BigInt(1); for (var i = 0; i < n; i++) r *= TEN; return r; }
  // "12.5" -> 125000n at 4 places; null when it is not a plain non-negative number.
  function parse(text, places) {
    var m = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(text || "");
    if (!m || (m[1] === "" && !m[2]) || (m[2] || "").length > places) return null;
    return BigInt((m[1] || "0") + ((m[2] || "") + "0".repeat(places)).slice(0, places));
  }
  function roundHalfUp(value, divisor) { return (value + divisor / BigInt(2)) / divisor; }
  function show(minor) { return formatter.format(Number(minor) / Math.pow(10, exponent)); }

  function recalc() {
    var subtotal = BigInt(0), tax = BigInt(0);
    table.querySelectorAll("tbody tr.line-row").forEach(function (row) {
      var output = row.querySelector("[data-line-amount]");
      var quantity = parse((row.querySelector("[name$=quantity]") || {}).value, 4);
      var price = parse((row.querySelector("[name$=unit_price]") || {}).value, 4);
      if (quantity === null || price === null) { if (output) output.textContent = ""; return; }
      var amount = roundHalfUp(quantity * price, pow10(8 - exponent));
      var select = row.querySelector("[name$=tax_rate]");
      var option = select && select.selectedOptions[0];
      var rate = option && option.dataset.rate ? parse(option.dataset.rate, 3) : null;
      if (rate !== null) tax += roundHalfUp(amount * rate, pow10(5));
      subtotal += amount;
      if (output) output.textContent = show(amount);
    });
    document.getElementById("running-subtotal").textContent = show(subtotal);
    document.getElementById("running-tax").textContent = show(tax);
    document.getElementById("running-total").textContent = show(subtotal + tax);
  }

  running = true;
  table.querySelectorAll("[data-running]").forEach(function (el) { el.hidden = false; });
  table.addEventListener("input", recalc);
  table.addEventListener("change", recalc);
  recalc();
})();
