// The customer's pages: the billing-details dialog of the invoice page and the receipt's Print button.
(function () {
  var dialog = document.getElementById("billing-dialog");
  var open = document.getElementById("pay-invoice");
  if (dialog && open && typeof dialog.showModal === "function") {  // no <dialog>: the link opens the details page
    open.addEventListener("click", function (event) { event.preventDefault(); dialog.showModal(); });
    document.getElementById("cancel-dialog").addEventListener("click", function () { dialog.close(); });
  }
  var print = document.getElementById("print-now");
  if (print) print.addEventListener("click", function () { window.print(); });
})();
