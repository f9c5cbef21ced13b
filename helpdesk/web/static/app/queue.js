// Queue page: j/k to move, Enter to open, and a prompt when tickets change.
(function () {
  "use strict";
  var table = document.getElementById("queue-table");
  var rows = table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr")) : [];
  var current = -1;

  function select(index) {
    if (!rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("selected"); }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("selected");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (e.ctrlKey || e.metaKey || e.altKey || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    if (e.key === "j") { select(current + 1); }
    else if (e.key === "k") { select(current - 1); }
    else if ((e.key === "Enter" || e.key === "o") && current >= 0) {
      window.location.href = rows[current].dataset.href;
    }
  });

  var fresh = document.getElementById("queue-fresh");
  var reload = document.getElementById("queue-reload");
  if (reload) { reload.addEventListener("click", function () { window.location.reload(); }); }
  var interesting = { "ticket.created": 1, "message.received": 1, "ticket.assigned": 1,
    "ticket.unassigned": 1, "ticket.status": 1, "ticket.routed": 1, "ticket.moved": 1 };
  document.addEventListener("tanya:ticket", function (e) {
    if (!interesting[e.detail.kind] || !fresh) { return; }
    // Reload at once when nobody is mid-way through the list; else ask.
    var typing = document.activeElement && /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName);
    if (current < 0 && !typing && window.scrollY < 40 && !window.location.search.match(/after=/)) {
      window.location.reload();
    } else {
      fresh.hidden = false;
    }
  });
})();
