// Cases: keep the team's case queue live (SSE, ids only), and send the case page's forms to the
// JSON API with the session's CSRF token (browsers send `Origin: null` for plain form posts under
// the console's no-referrer policy; fetch sends the real origin). No inline script (strict CSP).
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  const labels = { new: "New", acknowledged: "Acknowledged", contacted: "Contacted", referred: "Referred", closed: "Closed" };

  function banner(text) {
    const el = document.getElementById("banner");
    if (el) { el.textContent = text; el.hidden = !text; }
  }

  // ------------------------------------------------------------------ case page forms
  function bodyOf(form) {
    const f = new FormData(form);
    const kind = form.dataset.kind;
    const version = f.has("version") ? parseInt(f.get("version"), 10) : undefined;
    if (kind === "transition") {
      const body = { version, status: f.get("status") };
      if (f.get("outcome")) body.outcome = f.get("outcome");
      return ["transition", body];
    }
    if (kind === "note") return ["notes", { text: f.get("text") }];
    if (kind === "contact") return ["contact", { version, text: f.get("text"), confirm_safe_time: f.get("confirm_safe_time") === "on" }];
    if (kind === "refer") {
      const shared = [];
      for (const [name, value] of f.entries()) { if (name.startsWith("share_") && value === "on") shared.push(name.slice(6)); }
      return ["referrals", { service_id: parseInt(f.get("service_id"), 10), shared,
        consent: { given: f.get("consent_given") === "on", how: f.get("consent_how") } }];
    }
    if (kind === "referral") return ["referrals/" + encodeURIComponent(f.get("referral_id")), { status: f.get("status") }];
    return [null, null];
  }

  document.querySelectorAll("form[data-kind]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const [path, body] = bodyOf(form);
      if (!path) return;
      const res = await fetch("/api/cases/" + encodeURIComponent(form.dataset.case) + "/" + path, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      if (res.status === 401) { window.location = "/login"; return; }
      const data = await res.json().catch(() => ({}));
      if (!res.ok) { banner(data.message || data.error || res.statusText); return; }
      window.location.reload();
    });
  });

  // ------------------------------------------------------------------ live case queue
  const section = document.getElementById("cases-section");
  if (!section) return;
  const view = section.dataset.view;
  const status = document.getElementById("cases-live");
  function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
  async function refresh() {
    const res = await fetch("/api/cases?view=" + encodeURIComponent(view), { credentials: "same-origin", headers: { "Accept": "application/json", "X-Haven-Background": "1" } });
    if (res.status === 401) { window.location = "/login"; return; }
    if (!res.ok) return;
    const data = await res.json();
    const body = document.querySelector("#cases tbody");
    body.replaceChildren();
    if (!data.items.length) { const tr = document.createElement("tr"); tr.className = "empty"; const td = cell(tr, "No open cases."); td.colSpan = 8; body.appendChild(tr); return; }
    data.items.forEach((c) => {
      const tr = document.createElement("tr");
      tr.dataset.id = String(c.id);
      tr.className = "status-" + c.status + (c.safe_now === false ? " risk-danger" : "");
      const ref = document.createElement("td"); const a = document.createElement("a"); a.href = "/cases/" + c.id; a.textContent = c.reference; ref.appendChild(a); tr.appendChild(ref);
      cell(tr, (labels[c.status] || c.status) + (c.outcome ? " (" + c.outcome + ")" : ""));
      cell(tr, c.safe_now === false ? "not safe" : (c.safe_now ? "yes" : "–"));
      cell(tr, c.incident_types.join(", ") || "–");
      cell(tr, c.channel); cell(tr, c.language); cell(tr, c.team_id || "unrouted");
      cell(tr, Math.floor(c.waiting_seconds / 60) + " min");
      body.appendChild(tr);
    });
  }
  const source = new EventSource("/api/cases/events");
  source.onopen = () => { if (status) status.textContent = "live"; };
  source.onerror = () => { if (status) status.textContent = "reconnecting…"; };
  source.addEventListener("cases", () => { refresh().catch(() => {}); });
  setInterval(() => { refresh().catch(() => {}); }, 30000);
})();
