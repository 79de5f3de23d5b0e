// Printable documents (the receipt, the invoice's print view): the Print button prints, and
// arriving with ?print=1 (from "Print Receipt" or the invoice's Print) opens the print dialog at once.
(function () {
  var button = document.getElementById("print-now");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }
  if (new URLSearchParams(window.location.search).get("print") === "1") {
    window.addEventListener("load", function () { window.print(); });
  }
})();
