// Shared by every page: money, the server clock, CSRF for the JSON API, and ws/me/ toasts.
window.Gavel = (() => {
  // Money: integer cents on the wire; shown in the site's currency (<html data-currency>) for the visitor's locale.
  const html = document.documentElement;
  const CURRENCY = html.dataset.currency || "EUR";
  const MAX_CENTS = Number(html.dataset.maxCents) || Number.MAX_SAFE_INTEGER;
  const LOCALES = navigator.languages && navigator.languages.length ? [...navigator.languages] : [navigator.language || "en-US"];
  const numberFormat = (options) => {
    try { return new Intl.NumberFormat(LOCALES, options); } catch (e) { return new Intl.NumberFormat("en-US", options); }
  };
  const moneyFormat = numberFormat({ style: "currency", currency: CURRENCY });
  const money = (cents) => (cents === null || cents === undefined || Number.isNaN(cents)) ? "–" : moneyFormat.format(cents / 100);
  // How the visitor writes numbers: their grouping separator, and an example amount ("12.50", "12,50").
  const plainFormat = numberFormat({ minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const part = (type, fallback) => (plainFormat.formatToParts(1234.5).find((p) => p.type === type) || { value: fallback }).value;
  const GROUP = part("group", ",");
  const EXAMPLE = plainFormat.format(12.5);
  const symbols = [CURRENCY, ...["symbol", "narrowSymbol"].map((display) => {
    try { return new Intl.NumberFormat(LOCALES, { style: "currency", currency: CURRENCY, currencyDisplay: display }).formatToParts(1).find((p) => p.type === "currency").value; } catch (e) { return CURRENCY; }
  })];
  // What a person types, read as cents: "12.50" and "12,50" alike; grouping optional ("1,234.50", "1.234,50",
  // "1 234,50"); the currency's symbol or code may stand beside it. A lone separator followed by exactly three digits
  // is grouping only if it is the visitor's own ("1,000" in en-US, "1.000" in de-DE); otherwise it is the decimal point.
  // Returns {cents} or {problem: a sentence saying what is wrong}.
  function readAmount(raw) {
    const typed = String(raw === null || raw === undefined ? "" : raw).trim();
    let s = typed;
    for (const symbol of symbols) s = s.split(symbol).join("");
    s = s.replace(/[\s\u00a0\u202f\u2009'’]/g, "");
    if (!s) return { problem: `Enter an amount, like ${EXAMPLE}.` };
    if (/^[-−]/.test(s)) return { problem: "Enter an amount above zero." };
    const notAnAmount = { problem: `“${typed}” is not an amount: enter one like ${EXAMPLE}.` };
    if (!/^\d[\d.,]*$/.test(s)) return notAnAmount;
    const last = Math.max(s.lastIndexOf("."), s.lastIndexOf(","));
    let whole = s, frac = "";
    if (last >= 0) {
      const sep = s[last], head = s.slice(0, last), tail = s.slice(last + 1);
      const other = sep === "." ? "," : ".";
      const grouping = !head.includes(other) && (head.includes(sep) || (tail.length === 3 && sep === GROUP));
      if (grouping) { whole = s; }
      else {
        if (!/^\d*$/.test(tail)) return notAnAmount;
        if (tail.length > 2) return { problem: `Amounts go to the cent: at most two digits after the decimal point, like ${EXAMPLE}.` };
        whole = head; frac = tail;
      }
      const groups = whole.split(/[.,]/);
      if (groups.length > 1) {
        const seps = new Set(whole.replace(/\d/g, ""));
        if (seps.size > 1 || !/^\d{1,3}$/.test(groups[0]) || !groups.slice(1).every((g) => /^\d{3}$/.test(g))) return notAnAmount;
      }
      whole = groups.join("");
    }
    if (whole.replace(/^0+/, "").length > 15) return { problem: `The highest amount this site takes is ${money(MAX_CENTS)}.` };
    const cents = Number(whole || "0") * 100 + Number(frac.padEnd(2, "0"));
    if (cents === 0) return { problem: "Enter an amount above zero." };
    if (cents > MAX_CENTS) return { problem: `The highest amount this site takes is ${money(MAX_CENTS)}.` };
    return { cents };
  }
  const toCents = (raw) => { const read = readAmount(raw); return read.problem ? null : read.cents; };
  // Cents as a form field holds them, the visitor's way without grouping ("1234.50", "1234,50"): readAmount reads it back.
  const inputFormat = numberFormat({ minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false });
  const amountInput = (cents) => (cents === null || cents === undefined || cents === "") ? "" : inputFormat.format(cents / 100);
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
  async function api(method, url, body) {  // body: an object sent as JSON, or a FormData sent as multipart
    const form = body instanceof FormData;
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { ...(form ? {} : { "Content-Type": "application/json" }), "X-CSRFToken": decodeURIComponent(cookie("csrftoken")) },
      body: body === undefined || form ? body : JSON.stringify(body),
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

  // `quiet`: shown, not read out, for a notice the page already announces itself (the lot page's own lot).
  // A log, not a status: notices come and go in order, and a page's own status line stays its one status.
  function toast(html, { quiet = false } = {}) {
    let box = document.getElementById("toasts");
    if (!box) { box = document.createElement("div"); box.id = "toasts"; box.setAttribute("role", "log"); document.body.append(box); }
    const el = document.createElement("div");
    el.className = "toast";
    if (quiet) el.setAttribute("aria-hidden", "true");
    el.innerHTML = html;
    box.append(el);
    setTimeout(() => el.remove(), 8000);
  }
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const lotLink = (m) => `<a href="/lots/${Number(m.lot)}/">${esc(m.title || "a lot")}</a>`;
  const NOTICES = {
    outbid: (m) => `You were outbid on ${lotLink(m)}: now ${money(m.amount)}.`,
    won: (m) => `You won ${lotLink(m)} for ${money(m.amount)}!`,
    win_withdrawn: (m) => `${lotLink(m)} was reopened${m.reason ? ` (${esc(m.reason)})` : ""}: your win no longer stands.`,
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
        const lotPage = document.getElementById("lot");
        if (text) toast(text, { quiet: lotPage !== null && typeof m.lot === "number" && String(m.lot) === lotPage.dataset.lotId });
        document.dispatchEvent(new CustomEvent("gavel:notice", { detail: m }));
      },
    });
  }
  document.addEventListener("DOMContentLoaded", personalSocket);
  return { money, readAmount, toCents, amountInput, newId, clock, left, api, liveSocket, toast, esc };
})();
