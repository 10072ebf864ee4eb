// Duty console: keeps the server-rendered pages live through the JSON API and server-sent events.
// No inline script (strict CSP); every state-changing call sends the session's CSRF token.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  const page = document.body.dataset.page;

  // background: an automatic refresh, not the officer's own action (does not reset the idle timeout)
  async function api(method, path, body, background) {
    const opts = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (background) opts.headers["X-Haven-Background"] = "1";
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    const res = await fetch(path, opts);
    if (res.status === 401) { window.location = "/login"; throw new Error("login_required"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { const err = new Error(data.message || data.error || res.statusText); err.code = data.error; err.status = res.status; throw err; }
    return data;
  }

  function banner(text) {
    const el = document.getElementById("banner");
    if (!el) return;
    el.textContent = text; el.hidden = !text;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function liveEvents(handlers) {
    const status = document.getElementById("live");
    const source = new EventSource("/api/events");
    source.onopen = () => { if (status) status.textContent = "live"; };
    source.onerror = () => { if (status) status.textContent = "reconnecting…"; };
    Object.entries(handlers).forEach(([name, fn]) => source.addEventListener(name, (e) => fn(JSON.parse(e.data || "{}"))));
    source.addEventListener("logout", () => { source.close(); window.location = "/login"; });
    return source;
  }

  // ------------------------------------------------------------------ queue page
  function renderRows(tableId, items) {
    const table = document.getElementById(tableId);
    if (!table) return;
    const body = table.querySelector("tbody");
    body.replaceChildren();
    if (!items.length) { const tr = el("tr", { class: "empty" }); tr.appendChild(el("td", { colspan: "7" }, "Nothing here.")); body.appendChild(tr); return; }
    items.forEach((h) => {
      const tr = el("tr", { class: "risk-" + h.risk, "data-id": String(h.id) });
      tr.appendChild(el("td", {}, h.code));
      const risk = el("td"); risk.appendChild(el("span", { class: "pill " + h.risk }, h.risk)); tr.appendChild(risk);
      tr.appendChild(el("td", {}, h.language));
      tr.appendChild(el("td", {}, h.channel));
      tr.appendChild(el("td", {}, Math.floor(h.waiting_seconds / 60) + " min"));
      tr.appendChild(el("td", {}, h.status));
      const act = el("td");
      if (tableId === "mine") act.appendChild(el("a", { href: "/handoffs/" + h.id }, "Open"));
      if (tableId === "unassigned") { const b = el("button", { class: "claim", "data-id": String(h.id) }, "Take"); act.appendChild(b); }
      tr.appendChild(act);
      body.appendChild(tr);
    });
  }

  async function refreshQueue() {
    const views = ["unassigned", "mine"];
    if (document.getElementById("all")) views.push("all");
    for (const v of views) {
      try { const data = await api("GET", "/api/queue?view=" + v, null, true); renderRows(v, data.items); } catch (e) { /* shown by banner on next action */ }
    }
  }

  function initQueue() {
    document.addEventListener("click", async (ev) => {
      const btn = ev.target.closest("button.claim");
      if (!btn) return;
      btn.disabled = true;
      try { const claim = await api("POST", "/api/handoffs/" + btn.dataset.id + "/claim"); window.location = "/handoffs/" + claim.handoff_id; }
      catch (e) { banner("Someone else took it first."); refreshQueue(); }
    });
    const next = document.getElementById("claim-next");
    if (next) next.addEventListener("click", async () => {
      try {
        const claim = await api("POST", "/api/handoffs/claim-next");
        if (claim.handoff_id) window.location = "/handoffs/" + claim.handoff_id; else banner("Nobody is waiting for you right now.");
      } catch (e) { banner(e.message); }
    });
    let pending = null;
    liveEvents({ queue: () => { if (pending) return; pending = setTimeout(() => { pending = null; refreshQueue(); }, 50); } });
    setInterval(refreshQueue, 30000);
  }

  // ------------------------------------------------------------------ conversation page
  function initConversation() {
    const root = document.getElementById("conversation");
    const id = root.dataset.id;
    let version = parseInt(root.dataset.version, 10);
    let lastSeq = parseInt(root.dataset.lastSeq, 10) || 0;
    let lastActivity = Date.now();
    let lost = false;
    ["keydown", "mousemove", "click", "touchstart"].forEach((n) => document.addEventListener(n, () => { lastActivity = Date.now(); }, { passive: true }));

    function loseClaim(message) {
      lost = true;
      banner(message || "This conversation is no longer yours (the claim lapsed or moved). Go back to the queue.");
      root.querySelectorAll("button, textarea, select").forEach((n) => { n.disabled = true; });
    }

    function metaText(m) {
      return m.kind + " · " + new Date(m.at).toLocaleTimeString().slice(0, 5) + (m.delivery ? " · " + m.delivery : "");
    }

    function append(m) {
      const known = document.querySelector('#transcript li[data-seq="' + m.seq + '"] .meta');
      if (known) { known.textContent = metaText(m); return; }
      if (m.seq <= lastSeq) return;
      lastSeq = m.seq;
      const li = el("li", { class: "msg " + m.kind, "data-seq": String(m.seq) });
      li.appendChild(el("span", { class: "meta" }, metaText(m)));
      li.appendChild(el("span", { class: "body" }, m.text));
      document.getElementById("transcript").appendChild(li);
      li.scrollIntoView({ block: "end" });
    }

    async function refresh() {
      if (lost) return;
      try { const data = await api("GET", "/api/handoffs/" + id + "?after=" + lastSeq, null, true); data.messages.forEach(append); }
      catch (e) { if (e.status === 404) loseClaim("This conversation ended or is no longer yours."); }
    }

    async function write(path, body) {
      try { return await api("POST", "/api/handoffs/" + id + path, Object.assign({ version }, body || {})); }
      catch (e) { if (e.code === "stale_claim") loseClaim(); else banner(e.message); throw e; }
    }

    document.getElementById("reply-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const box = document.getElementById("reply-text");
      const text = box.value.trim(); if (!text) return;
      const res = await write("/reply", { text });
      box.value = "";
      if (res.delivery === "failed") banner("Your reply was saved but could not be delivered.");
      if (res.delivery === "held") banner("Her window is closed: your reply is held until she writes again.");
      await refresh();
      append({ seq: res.seq, kind: "officer", at: new Date().toISOString(), delivery: res.delivery, text });
    });
    const canned = document.getElementById("canned");
    if (canned) canned.addEventListener("change", () => { if (canned.value) document.getElementById("reply-text").value = canned.value; });
    document.getElementById("note-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const box = document.getElementById("note-text");
      const text = box.value.trim(); if (!text) return;
      await write("/notes", { text }); box.value = ""; refresh();
    });
    document.getElementById("close-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await write("/close", { outcome: document.getElementById("outcome").value });
      window.location = "/";
    });
    document.getElementById("release").addEventListener("click", async () => { await write("/release"); window.location = "/"; });
    document.getElementById("transfer-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const [kind, target] = document.getElementById("transfer-target").value.split(":");
      const body = kind === "team" ? { team_id: parseInt(target, 10) } : { officer_id: parseInt(target, 10) };
      await write("/transfer", body); window.location = "/";
    });

    // Renew the lease while the officer is active (last input within 5 minutes).
    setInterval(async () => {
      if (lost || Date.now() - lastActivity > 5 * 60 * 1000) return;
      try { await write("/renew"); } catch (e) { /* loseClaim already shown */ }
    }, 20000);
    liveEvents({
      handoff: (data) => { if (String(data.id) === String(id)) { if (data.status !== "claimed") loseClaim("This conversation was closed or moved (she may have left)."); else refresh(); } },
      takeover: (data) => { if (String(data.id) === String(id)) loseClaim("A supervisor took over this conversation (reason: " + String(data.reason).replace(/_/g, " ") + "). Go back to the queue."); },
    });
  }

  // ------------------------------------------------------------------ admin page
  function initAdmin() {
    document.addEventListener("click", async (ev) => {
      const dis = ev.target.closest("button.disable-officer");
      const rem = ev.target.closest("button.remove-shift");
      try {
        if (dis && confirm("Disable this account?")) { await api("POST", "/api/officers/" + dis.dataset.id + "/disable"); location.reload(); }
        if (rem) { await api("POST", "/api/roster/" + rem.dataset.id + "/delete"); location.reload(); }
      } catch (e) { banner(e.message); }
    });
    document.getElementById("team-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/api/teams", { name: document.getElementById("team-name").value }); location.reload(); } catch (e) { banner(e.message); }
    });
    document.getElementById("shift-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const utc = (v) => v + ":00+00:00";
      try {
        await api("POST", "/api/roster", {
          officer_id: parseInt(document.getElementById("shift-officer").value, 10),
          languages: document.getElementById("shift-languages").value.split(",").map((s) => s.trim()).filter(Boolean),
          starts_at: utc(document.getElementById("shift-start").value), ends_at: utc(document.getElementById("shift-end").value),
          repeat_days: parseInt(document.getElementById("shift-repeat").value, 10) || 1,
        });
        location.reload();
      } catch (e) { banner(e.message); }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (page === "queue") initQueue();
    if (page === "conversation") initConversation();
    if (page === "admin") initAdmin();
  });
})();
