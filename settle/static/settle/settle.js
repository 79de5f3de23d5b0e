// Small behaviours declared in the markup, loaded by the pages that use them:
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
