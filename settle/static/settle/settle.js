// Small behaviours declared in the markup, loaded by every page:
// data-autosubmit on a <select> submits its form on change; data-confirm on a <form> asks first.
(function () {
  if (window.settleBehaviours) return;  // a page may load this file twice (menu and page)
  window.settleBehaviours = true;
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();

// Every page: a table that scrolls sideways (on a narrow screen) can be reached and scrolled
// with the keyboard. Without JavaScript the browser's own handling of scrollers applies.
(function () {
  "use strict";
  if (window.settleTables) return;
  window.settleTables = true;
  function label(table) {
    var heading = table.closest("section, main");
    heading = heading && heading.querySelector("h1, h2");
    return (heading ? heading.textContent.trim() + ": " : "") + "table, scrolls sideways";
  }
  function sync() {
    document.querySelectorAll("table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("aria-label", label(table));
        table.dataset.scrollFocus = "1";
      } else if (!scrolls && table.dataset.scrollFocus) {
        table.removeAttribute("tabindex");
        table.removeAttribute("aria-label");
        delete table.dataset.scrollFocus;
      }
    });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(sync);
  });
  sync();
})();
