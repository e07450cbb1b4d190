// A part of a form that matters for one choice only (the closure's new municipality, for
// "moved away"): shown only while that choice is made. Without JavaScript it stays visible,
// and its label says when it matters; the server decides either way.
(function () {
  "use strict";
  document.querySelectorAll("[data-shown-for]").forEach(function (part) {
    var form = part.closest("form");
    var chooser = form && form.elements.namedItem(part.getAttribute("data-shown-for-field"));
    if (!chooser) return;
    var wanted = part.getAttribute("data-shown-for");
    function update() { part.hidden = chooser.value !== wanted; }
    chooser.addEventListener("change", update);
    update();
  });
})();
