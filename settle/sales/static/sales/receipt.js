// Receipt page (K3): Print prints; arriving from "Print Receipt" (?print=1) opens the print dialog at once.
(function () {
  var button = document.getElementById("print-now");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
  if (new URLSearchParams(window.location.search).get("print") === "1") {
    window.addEventListener("load", function () { window.print(); });
  }
})();
