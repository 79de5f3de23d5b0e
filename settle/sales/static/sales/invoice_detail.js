// Opens the compose form in a <dialog>; without JS the Email link opens the compose page.
(function () {
  "use strict";
  var dialog = document.getElementById("email-dialog");
  var opener = document.getElementById("email-open");
  if (!dialog || !opener || typeof dialog.showModal !== "function") return;
  opener.addEventListener("click", function (event) {
    event.preventDefault();
    dialog.showModal();
  });
  opener.setAttribute("aria-haspopup", "dialog");
  dialog.querySelectorAll("[data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () { dialog.close(); });
  });
})();
