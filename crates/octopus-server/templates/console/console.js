// The consoles' one script: every form with data-api sends its fields as JSON to the admin
// API (with the session's CSRF token) and then follows data-then, shows what data-show names
// (a TOTP enrolment, recovery codes, a secret shown once), or reloads the page; a refusal is
// shown next to the button. Navigation and filters are htmx's (hx-boost, hx-get).
(function () {
  'use strict';
  // Read at each submit: a boosted navigation replaces the body, and with it the token.
  const csrf = () => ((document.getElementById('csrf') || {}).dataset || {}).token || '';

  function message(answer, status) {
    const data = answer && answer.data;
    if (data && typeof data === 'object' && data.details) return data.error + ': ' + data.details;
    if (typeof data === 'string') return data;
    return 'The request failed (HTTP ' + status + ')';
  }

  function show(form, kind, data) {
    if (kind === 'enrolment') {
      const box = document.getElementById('enrolment');
      document.getElementById('totp-qr').innerHTML = data.qr_svg;
      document.getElementById('totp-secret').textContent = data.secret;
      document.getElementById('enrolment-blob').value = data.enrolment;
      form.hidden = true;
      box.hidden = false;
    } else if (kind === 'recovery') {
      const list = document.getElementById('recovery-codes');
      list.replaceChildren(...data.recovery_codes.map((c) => {
        const li = document.createElement('li');
        li.textContent = c;
        return li;
      }));
      document.getElementById('enrolment').hidden = true;
      document.getElementById('recovery').hidden = false;
    } else {
      const pre = document.createElement('pre');
      pre.className = 'shown-once';
      pre.textContent = JSON.stringify(data, null, 2);
      form.querySelector('.result').replaceChildren(pre);
    }
  }

  document.addEventListener('submit', async (event) => {
    const form = event.target.closest('form[data-api]');
    if (!form) return;
    event.preventDefault();
    const out = form.querySelector('.result');
    let body = {};
    const fields = new FormData(form);
    if (fields.has('_json')) {
      // A body too rich for fields (lists, numbers): the JSON the admin API takes, as typed.
      try {
        body = JSON.parse(fields.get('_json'));
      } catch (e) {
        if (out) out.textContent = 'Not JSON: ' + e.message;
        return;
      }
    } else {
      fields.forEach((value, key) => {
        if (key !== 'confirm') body[key] = value;
      });
    }
    const method = form.dataset.method || 'POST';
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    let response, answer;
    try {
      response = await fetch(form.dataset.api, {
        method,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
        body: method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify(body),
      });
      answer = await response.json().catch(() => null);
    } catch (e) {
      if (out) out.textContent = 'The gateway did not answer';
      if (button) button.disabled = false;
      return;
    }
    if (button) button.disabled = false;
    if (!response.ok) {
      if (out) {
        out.textContent = message(answer, response.status);
        out.classList.add('error');
      }
      return;
    }
    if (form.dataset.then) {
      window.location.assign(form.dataset.then);
    } else if (form.dataset.show) {
      show(form, form.dataset.show, answer.data);
    } else {
      window.location.reload();
    }
  });
})();
