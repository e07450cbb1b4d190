// livc's pages: start the design system's components (GOV.UK Frontend), and give every table
// cell its column's name, so that a table read on a narrow screen stacks into labelled
// summaries (livc.scss, "tables that stack"). Loaded as a module: no inline script (the CSP).
import { initAll } from "./build/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

for (const table of document.querySelectorAll(".livc-content table")) {
  const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  if (!headers.length) continue;
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, index) => {
      if (headers[index] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", headers[index]);
    });
  }
}
