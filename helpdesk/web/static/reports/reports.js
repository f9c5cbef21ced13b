// Report filters: show the date fields for a custom period, apply a change at once.
(function () {
  "use strict";
  var form = document.getElementById("report-filters");
  if (!form) { return; }
  var period = document.getElementById("f-period");
  function sync() { form.classList.toggle("custom", period.value === "custom"); }
  sync();
  period.addEventListener("change", function () {
    sync();
    if (period.value !== "custom") { form.submit(); }
  });
  ["f-channel", "f-queue", "f-consultant", "f-category"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("change", function () { form.submit(); }); }
  });
}());
