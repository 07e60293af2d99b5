/* TLSA Manager's account page: copy buttons, "Check now" (UAPI TLSAManager::check) and the
   e-mail switch (UAPI TLSAManager::set_notify), through
   cPanel's own /execute/ endpoint under the session's security token, so cPanel checks the login
   and the feature). No inline script: the page runs under a strict CSP. */
(function () {
  'use strict';
  document.addEventListener('click', function (e) {
    var t = e.target;
    if (!(t instanceof HTMLElement)) return;
    if (t.classList.contains('tlsam-copy')) {
      var text = t.getAttribute('data-copy') || '';
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { t.textContent = 'Copied'; }, function () { t.textContent = 'Select and copy'; });
      return;
    }
    if (t.classList.contains('tlsam-check')) {
      var domain = t.getAttribute('data-check') || '';
      var out = t.parentElement && t.parentElement.querySelector('.tlsam-check-result');
      var base = window.location.pathname.replace(/\/frontend\/.*$/, '');
      t.setAttribute('disabled', 'disabled');
      if (out) out.textContent = 'Checking…';
      fetch(base + '/execute/TLSAManager/check?domain=' + encodeURIComponent(domain), { credentials: 'same-origin' })
        .then(function (r) { return r.json(); })
        .then(function (r) {
          if (r.status) { window.location.reload(); return; }
          if (out) out.textContent = (r.errors && r.errors[0]) || 'The check did not run.';
          t.removeAttribute('disabled');
        })
        .catch(function () { if (out) out.textContent = 'The check did not run; try again later.'; t.removeAttribute('disabled'); });
    }
  });
  // The owner's own e-mail switch: UAPI TLSAManager::set_notify, kept by the service per account.
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (!(t instanceof HTMLInputElement) || !t.classList.contains('tlsam-notify-box')) return;
    var out = t.closest('.tlsam-notify') && t.closest('.tlsam-notify').querySelector('.tlsam-notify-result');
    var want = t.checked;
    var base = window.location.pathname.replace(/\/frontend\/.*$/, '');
    t.setAttribute('disabled', 'disabled');
    fetch(base + '/execute/TLSAManager/set_notify?enabled=' + (want ? '1' : '0'), { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (r) {
        if (r.status) { if (out) out.textContent = want ? 'Saved: you will get these messages.' : 'Saved: no more messages.'; }
        else { t.checked = !want; if (out) out.textContent = (r.errors && r.errors[0]) || 'Not saved.'; }
        t.removeAttribute('disabled');
      })
      .catch(function () { t.checked = !want; if (out) out.textContent = 'Not saved; try again later.'; t.removeAttribute('disabled'); });
  });
})();
