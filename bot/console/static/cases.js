// Case queue: re-render the team's cases when the server says cases changed (SSE, ids only).
"use strict";
(function () {
  const section = document.getElementById("cases-section");
  if (!section) return;
  const view = section.dataset.view;
  const status = document.getElementById("cases-live");
  const labels = { new: "New", acknowledged: "Acknowledged", contacted: "Contacted", referred: "Referred", closed: "Closed" };
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
