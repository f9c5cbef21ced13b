// "Try a question": asks the matcher as the administrator types.
(function () {
  "use strict";
  var input = document.getElementById("try-question");
  var list = document.getElementById("try-results");
  if (!input || !list) { return; }
  var timer = null;
  var asked = 0;

  function show(data, ticket) {
    if (ticket !== asked) { return; }  // an older answer arriving late
    list.textContent = "";
    if (!data.suggestions || !data.suggestions.length) {
      if (data.question) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = input.dataset.empty;
        list.appendChild(none);
      }
      return;
    }
    data.suggestions.forEach(function (s) {
      var li = document.createElement("li");
      var head = document.createElement("div");
      head.className = "row";
      var link = document.createElement("a");
      link.href = "/admin/faq/" + encodeURIComponent(s.entry);
      link.textContent = s.question;
      var score = document.createElement("span");
      score.className = "badge " + (s.automatic ? "st-open" : "");
      score.textContent = s.score + " · " + (s.automatic ? input.dataset.auto : input.dataset.suggest);
      head.appendChild(link);
      head.appendChild(score);
      var answer = document.createElement("p");
      answer.className = "small muted";
      answer.textContent = s.answer;
      li.appendChild(head);
      li.appendChild(answer);
      li.dataset.entry = s.entry;
      list.appendChild(li);
    });
  }

  function ask() {
    asked += 1;
    var ticket = asked;
    fetch("/admin/faq/try?q=" + encodeURIComponent(input.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { show(data, ticket); })
      .catch(function () { /* the next keystroke asks again */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  });
  if (input.value) { ask(); }
})();
