// TLSA Manager: the little JavaScript the pages use. No inline handlers (CSP), nothing required:
// every page works without it (forms post, the job page shows progress on reload).
(function () {
  'use strict';

  // Domain list: "select all" checkbox.
  var all = document.getElementById('select-all');
  if (all) {
    all.addEventListener('change', function () {
      var boxes = document.querySelectorAll('input[name="domain"]');
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
    });
  }

  // Filters apply as soon as a select changes.
  var selects = document.querySelectorAll('form.filters select');
  for (var i = 0; i < selects.length; i++) {
    selects[i].addEventListener('change', function (e) {
      var f = e.target.form;
      if (f) f.submit();
    });
  }

  // Copy buttons (DNSSEC panel): copy the text of the element named by data-copy.
  var copies = document.querySelectorAll('button[data-copy]');
  Array.prototype.forEach.call(copies, function (b) {
    b.addEventListener('click', function () {
      var el = document.getElementById(b.getAttribute('data-copy'));
      if (!el || !navigator.clipboard) return;
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var old = b.textContent;
        b.textContent = 'Copied';
        setTimeout(function () { b.textContent = old; }, 1500);
      });
    });
  });

  // Job progress: poll the JSON endpoint until the job finishes, then reload to show results.
  var jobs = document.querySelectorAll('[data-job]');
  Array.prototype.forEach.call(jobs, function (el) {
    var status = el.querySelector('.job-status');
    if (status && (status.textContent === 'done' || status.textContent === 'failed')) return;
    var bar = el.querySelector('progress');
    var count = el.querySelector('.job-count');
    function poll() {
      fetch(el.getAttribute('data-job'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j) return;
          if (j.total) { bar.max = j.total; bar.value = j.done; }
          count.textContent = j.done + ' / ' + (j.total || '?') + (j.unit ? ' ' + j.unit : '');
          status.textContent = j.status;
          if (j.status === 'done' || j.status === 'failed') {
            window.location.reload();
            return;
          }
          setTimeout(poll, 700);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 300);
  });
})();
