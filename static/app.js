// The portal's few behaviours beyond htmx. Listeners on the document read data- attributes,
// so they work on swapped-in markup too, and the Content-Security-Policy needs no inline
// script and htmx no eval (which hx-on would need):
//   data-confirm="question"   a click goes on only if the user says yes
//   data-remove="selector"    a click removes the closest element that matches
//   data-check-all="name"     ticking this box ticks (or unticks) every box of that name in its form
//   data-submit-on-change     choosing a value submits the form
// And when an htmx request fails, #request-failed says so (the text for its status), rather than
// the click seeming to do nothing; the next request hides it again.
//   data-checks="id"          a field's check, swapped in as it is typed: the field is marked
//                             invalid (aria-invalid) while the check shows an error
document.addEventListener("click", (event) => {
  const asking = event.target.closest("[data-confirm]");
  if (asking && !window.confirm(asking.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  const removing = event.target.closest("[data-remove]");
  if (removing) {
    removing.closest(removing.dataset.remove)?.remove();
  }
});

document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-check-all]");
  if (all) {
    for (const box of all.form.querySelectorAll("input[type=checkbox]")) {
      if (box.name === all.dataset.checkAll) box.checked = all.checked;
    }
  }
  if (event.target.matches("[data-submit-on-change]")) {
    event.target.form.requestSubmit();
  }
});

document.addEventListener("htmx:afterSettle", () => {
  for (const check of document.querySelectorAll("[data-checks]")) {
    const field = document.getElementById(check.dataset.checks);
    if (!field) continue;
    if (check.classList.contains("field-error")) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
  }
});

function requestFailed(key) {
  const notice = document.getElementById("request-failed");
  if (!notice) return;
  notice.textContent = notice.dataset[key] || notice.dataset.other;
  notice.hidden = false;
}

document.addEventListener("htmx:responseError", (event) => requestFailed(String(event.detail.xhr.status)));
document.addEventListener("htmx:sendError", () => requestFailed("network"));
document.addEventListener("htmx:beforeRequest", () => {
  const notice = document.getElementById("request-failed");
  if (notice) notice.hidden = true;
});
