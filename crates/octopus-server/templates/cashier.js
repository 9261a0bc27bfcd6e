// The cashier page's only script, inlined and allowed by its hash in the page's
// Content-Security-Policy. Everything it does is an extra: without it the values stay
// selectable text, the time left is as the page was served, and a <meta refresh> reloads.
(function () {
  "use strict";
  var page = document.getElementById("page");
  if (!page) { return; }
  var data = page.dataset;

  // Copy buttons: shown only where the script runs.
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var label = button.textContent;
      var done = function () {
        button.textContent = button.dataset.copied;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      var select = function () {
        var target = document.getElementById(button.dataset.target);
        if (!target) { return; }
        var range = document.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* left selected */ }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(button.dataset.copy).then(done, select);
      } else {
        select();
      }
    });
  });

  // The time left, counting down from what the server said.
  var left = document.getElementById("time-left-value");
  if (left) {
    var end = Date.now() + Number(left.dataset.seconds) * 1000;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var tick = function () {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      if (s === 0) {
        left.textContent = left.dataset.up;
        return;
      }
      left.textContent = s >= 3600
        ? left.dataset.hm.replace("{h}", Math.floor(s / 3600)).replace("{m}", two(Math.floor(s % 3600 / 60)))
        : left.dataset.ms.replace("{m}", Math.floor(s / 60)).replace("{s}", two(s % 60));
      setTimeout(tick, 1000);
    };
    tick();
  }

  // While the payment may still change, ask for its status and show the page again once it
  // has (location.replace: the page, not a form's answer, and no extra history entry).
  if (data.watch === "true") {
    var poll = function () {
      fetch(data.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.status && s.status !== data.status) {
            location.replace(data.pageUrl);
          } else {
            setTimeout(poll, 4000);
          }
        }, function () { setTimeout(poll, 8000); });
    };
    setTimeout(poll, 4000);
  }

  // Once the payment has ended, back to the merchant after a few seconds.
  var back = document.getElementById("going-back");
  if (back && data.redirect) {
    setTimeout(function () { location.assign(data.redirect); }, Number(back.dataset.seconds) * 1000);
  }
})();
