// Small behaviours shared by every signed-in page, declared in the markup:
// data-autosubmit on a <select> submits its form on change; data-confirm on a <form> asks first.
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
