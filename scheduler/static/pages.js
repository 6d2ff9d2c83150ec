// Small improvements on top of pages that work without JavaScript (the CSP allows no inline
// script, so everything lives here).
"use strict";

// After a form error, focus goes to the summary of problems (WCAG 3.3.1, the GOV.UK error
// summary): a screen reader reads it, and each entry jumps to its field.
function focusErrorSummary() {
  const summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const field = link && document.getElementById(link.hash.slice(1));
    if (!field) return;
    event.preventDefault();
    const label = field.id && document.querySelector(`label[for="${field.id}"]`);
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
}

// "Copy link": shown only where the browser can copy; the link stays selectable either way.
function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    if (!navigator.clipboard) continue;
    const status = document.getElementById(button.dataset.copyStatus);
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        status.textContent = button.dataset.copied;
      } catch {
        status.textContent = button.dataset.copyFailed;
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  focusErrorSummary();
  copyButtons();
});
