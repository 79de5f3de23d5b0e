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
      var html = template.innerHTML.replace(/__prefix__/g, String(n));
      document.querySelector("#invoice-lines tbody").insertAdjacentHTML("beforeend", html);
      total.value = String(n + 1);
    });
  }
})();
