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

// --- the step-by-step provenance form (/upload/form) ---
// A block that applies only for some choice (the consent block for the ground consent) opens when that
// choice is made. Without this script the blocks are still there, each under its own summary.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-testid=document-form]");
  if (!form) return;
  const current = (name) => {
    const input = form.elements.namedItem(name);
    if (!input) return "";
    if (input.type === "checkbox") return input.checked ? "true" : "";
    return input.value;
  };
  const update = () => {
    for (const block of form.querySelectorAll("details[data-when-path]")) {
      const wanted = block.dataset.whenValues.split(" ");
      if (wanted.includes(current(block.dataset.whenPath))) block.open = true;
    }
  };
  form.addEventListener("change", (event) => {
    if (event.target.name && form.querySelector(`details[data-when-path="${CSS.escape(event.target.name)}"]`)) update();
  });
});
