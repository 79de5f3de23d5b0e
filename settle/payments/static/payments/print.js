// "Print" on a receipt prints the page at once.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-now");
  if (button) button.addEventListener("click", function () { window.print(); });
});
