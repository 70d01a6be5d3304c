// Shared by every page: money, the server clock, CSRF for the JSON API, and ws/me/ toasts.
window.Gavel = (() => {
  const money = (cents) => (cents === null || cents === undefined) ? "–" : (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const toCents = (raw) => {
    raw = String(raw).trim();
    if (!/^\d+(\.\d{1,2})?$/.test(raw)) return null;
    const [whole, frac = ""] = raw.split(".");
    return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
  };
  const newId = () => (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random().toString(16).slice(2)}`;

  // Server clock: offset = server time at the middle of the round trip minus local time, from the sample with the
  // smallest round trip (the least uncertain). Without a ping yet, a plain receipt time is the first estimate.
  let offsetMs = 0, bestRtt = Infinity;
  const clock = {
    now: () => Date.now() + offsetMs,
    observe(serverIso, rttMs = null) {
      if (!serverIso) return;
      const rtt = rttMs === null ? 1000 : rttMs;  // unknown round trip: a weak sample, replaced by any ping
      if (rtt <= bestRtt) { bestRtt = rtt; offsetMs = Date.parse(serverIso) + rtt / 2 - Date.now(); }
    },
  };
  const left = (endsAtMs) => {
    const ms = Math.max(0, endsAtMs - clock.now());
    const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (ms === 0) return "ended";
    return (d ? `${d}d ` : "") + (d || h ? `${h}h ` : "") + `${m}m ${String(s % 60).padStart(2, "0")}s`;
  };
  const cookie = (name) => (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "").split("=")[1] || "";
  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(cookie("csrftoken")) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }
  const wsUrl = (path) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  function backoff(attempt) { return Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2); }

  // The one reconnecting socket every page uses. Reconnects with exponential backoff and jitter; 4503 (a worker
  // restarting) reconnects at once; a close code in `stopOn` ends it (`onClose` still hears it). Each (re)connect
  // calls `onOpen(socket)`; every frame goes to `onMessage(message, socket)` as parsed JSON.
  function liveSocket(path, { onOpen = () => {}, onMessage, onClose = () => {}, stopOn = [] }) {
    let current = null, attempt = 0;
    function open() {
      const socket = current = new WebSocket(wsUrl(path));
      socket.onopen = () => { attempt = 0; onOpen(socket); };
      socket.onmessage = (e) => onMessage(JSON.parse(e.data), socket);
      socket.onclose = (e) => {
        if (socket !== current) return;
        onClose(e);
        if (stopOn.includes(e.code)) return;
        if (e.code === 4503) attempt = 0;
        setTimeout(open, e.code === 4503 ? 100 : backoff(attempt++));
      };
    }
    open();
    return {
      get open() { return current !== null && current.readyState === WebSocket.OPEN; },
      send(message) {
        if (current === null || current.readyState !== WebSocket.OPEN) return false;
        current.send(JSON.stringify(message));
        return true;
      },
    };
  }

  function toast(html) {
    let box = document.getElementById("toasts");
    if (!box) { box = document.createElement("div"); box.id = "toasts"; box.setAttribute("role", "status"); document.body.append(box); }
    const el = document.createElement("div");
    el.className = "toast";
    el.innerHTML = html;
    box.append(el);
    setTimeout(() => el.remove(), 8000);
  }
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const lotLink = (m) => `<a href="/lots/${Number(m.lot)}/">${esc(m.title || "a lot")}</a>`;
  const NOTICES = {
    outbid: (m) => `You were outbid on ${lotLink(m)}: now ${money(m.amount)}.`,
    won: (m) => `You won ${lotLink(m)} for ${money(m.amount)}!`,
    lot_closing_soon: (m) => `${lotLink(m)} ends soon.`,
    lot_closed: (m) => m.you_won ? null : `${lotLink(m)} has ended${m.winner ? ` — sold for ${money(m.amount)}` : " without a sale"}.`,
    cancelled: (m) => `${lotLink(m)} was withdrawn: ${esc(m.reason)}`,
    extended: (m) => `${lotLink(m)} now ends later: ${esc(m.reason)}`,
    banned: (m) => `Your account may no longer bid: ${esc(m.reason)}`,
  };

  // Every notice has an id; the last one seen is remembered (across pages and tabs), and on each (re)connect the
  // socket replays what came after it (`sync`), so nothing is lost while the bidder is away.
  const LAST_NOTICE = "gavel.lastNoticeId";
  const storedLastId = () => { try { return Number(localStorage.getItem(LAST_NOTICE)) || null; } catch (e) { return null; } };
  const seenIds = new Set();
  function remember(id) {
    seenIds.add(id);
    if (seenIds.size > 500) seenIds.delete(seenIds.values().next().value);
    try { if (id > (storedLastId() || 0)) localStorage.setItem(LAST_NOTICE, String(id)); } catch (e) { /* private mode */ }
  }

  function personalSocket() {
    if (document.body.dataset.user !== "1") return;
    liveSocket("/ws/me/", {
      stopOn: [4401],
      onMessage(m, socket) {
        if (m.type === "me") {  // first visit: start from now; otherwise replay what we missed
          const since = storedLastId();
          if (since === null || since > m.last_id) { try { localStorage.setItem(LAST_NOTICE, String(m.last_id)); } catch (err) { /* private mode */ } }
          else if (since < m.last_id) socket.send(JSON.stringify({ type: "sync", since_id: since }));
          return;
        }
        if (m.type === "synced") { if (m.last_id) remember(m.last_id); return; }
        if (typeof m.id === "number") {
          if (seenIds.has(m.id)) return;  // live and replayed: once is enough
          remember(m.id);
        }
        const text = NOTICES[m.type] && NOTICES[m.type](m);
        if (text) toast(text);
        document.dispatchEvent(new CustomEvent("gavel:notice", { detail: m }));
      },
    });
  }
  document.addEventListener("DOMContentLoaded", personalSocket);
  return { money, toCents, newId, clock, left, api, liveSocket, toast, esc };
})();
