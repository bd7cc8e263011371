// Kakunin's one script (the CSP allows no inline script). Progressive: every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A form with data-confirm asks before it is sent (approve, verify now).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Buttons are disabled once a form is sent, so a slow upload is not sent twice.
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }
});
