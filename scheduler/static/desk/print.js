// The day sheet's "Print" button (shown only where script runs; Ctrl+P prints the same sheet).
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
