// The lot page: one socket, a countdown on the server's clock, reconnect with backoff and resync by sequence.
(() => {
  const root = document.getElementById("lot");
  const lotId = root.dataset.lotId;
  const $ = (id) => document.getElementById(id);
  const money = (cents) => (cents / 100).toFixed(2);
  const SENTENCES = {
    invalid: "That bid could not be read. Enter an amount like 12.50.",
    not_authenticated: "Please log in to bid.",
    forbidden: "You may not bid on this lot.",
    not_found: "This lot no longer exists.",
    not_open: "Bidding on this lot has not started yet.",
    closed: "Bidding on this lot has ended.",
    too_low: "Your bid is below the minimum next bid.",
    buy_now_unavailable: "Buy now is no longer offered: this lot already has a bid.",
    rate_limited: "You are bidding too fast. Wait a moment.",
    busy: "The lot is very busy right now. Try again.",
    unavailable: "Bidding is briefly unavailable. Try again in a moment.",
  };
  let hasReserve = false, buyNow = null;
  let ws = null, seq = -1, endsAt = null, offsetMs = 0, minNext = null, status = "", myAlias = null;
  let retry = 0;
  const mySeqs = new Set(), aliasBySeq = new Map();  // learn our alias from our first accepted bid
  function showYou(bidder) {
    if ($("you")) $("you").textContent = bidder === myAlias ? "You are the high bidder." : (myAlias ? "You were outbid." : "");
  }

  function setServerTime(iso) { if (iso) offsetMs = Date.parse(iso) - Date.now(); }
  function setConnected(on) {
    $("conn").textContent = on ? "live" : "reconnecting…";
    $("conn").className = on ? "conn live" : "conn";
    if ($("bid-button")) $("bid-button").disabled = !on || status !== "open";
  }
  const FORBIDDEN = {
    own_lot: "You cannot bid on your own lot.",
    banned: "Your account may not bid.",
    not_verified: "Your account is not yet verified for bidding.",
  };
  function addHistory(amount, bidder, mine, kind) {
    const li = document.createElement("li");
    const label = kind === "automatic" ? " · automatic bid" : kind === "buy_now" ? " · bought now" : "";
    li.textContent = `${money(amount)} — ${bidder || ""}${mine ? " (you)" : ""}${label}`;
    $("history").prepend(li);
  }
  function toCents(raw) {
    if (!/^\d+(\.\d{1,2})?$/.test(raw)) return null;
    const [whole, frac = ""] = raw.split(".");
    return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
  }
  function newBidId() { return (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`; }
  async function loadHistory() {  // the snapshot has no history; the API does
    try {
      const body = await (await fetch(`/api/lots/${lotId}/bids/`, { credentials: "same-origin" })).json();
      $("history").replaceChildren();
      for (const b of body.bids.slice().reverse()) addHistory(b.amount, b.bidder, b.yours, b.kind);
    } catch (e) { /* live events still arrive; the list fills as bids come */ }
  }
  function applyState(m) {
    if (m.seq !== undefined) seq = m.seq;
    if (m.ends_at) endsAt = Date.parse(m.ends_at);
    if (m.min_next_bid !== undefined) { minNext = m.min_next_bid; if ($("min-next")) $("min-next").textContent = money(minNext); }
    if (m.bid_count !== undefined) $("bid-count").textContent = m.bid_count;
    if (m.status) { status = m.status; $("status").textContent = status; }
    if (m.reserve_met !== undefined && $("reserve")) $("reserve").textContent = hasReserve ? (m.reserve_met ? "met" : "not met") : "none";
    if (m.watchers !== undefined) $("watchers").textContent = m.watchers;
    if ($("buy-now")) $("buy-now").hidden = !(buyNow && status === "open");
    setConnected(ws && ws.readyState === WebSocket.OPEN);
  }
  const handlers = {
    snapshot(m) {
      setServerTime(m.server_time);
      myAlias = m.you && m.you.alias;
      hasReserve = m.lot.has_reserve;
      buyNow = m.buy_now_price;
      if ($("buy-now-price") && buyNow) $("buy-now-price").textContent = money(buyNow);
      if ($("your-max")) $("your-max").textContent = m.you && m.you.max_amount ? `Your hidden maximum: ${money(m.you.max_amount)}` : "";
      $("high").textContent = m.high_bid ? money(m.high_bid.amount) : "no bids yet";
      $("high-bidder").textContent = m.high_bid ? m.high_bid.bidder : "";
      if (m.high_bid) showYou(m.high_bid.bidder);
      applyState(m);
      loadHistory();
    },
    high_bid(m) {
      if (m.seq <= seq) return;  // already seen (replay overlap)
      if (m.seq > seq + 1 && seq >= 0) { requestSync(); return; }
      setServerTime(m.server_time);
      aliasBySeq.set(m.seq, m.bidder);
      if (mySeqs.has(m.seq)) myAlias = m.bidder;
      $("high").textContent = money(m.amount);
      $("high-bidder").textContent = m.bidder;
      addHistory(m.amount, m.bidder, m.bidder === myAlias, m.buy_now ? "buy_now" : m.automatic ? "automatic" : "manual");
      buyNow = null;  // offered until the first bid
      if (m.extended) { $("extended").hidden = false; setTimeout(() => { $("extended").hidden = true; }, 3000); }
      showYou(m.bidder);
      applyState(m);
    },
    closed(m) {
      if (m.seq <= seq) return;
      applyState({ ...m, status: "closed" });
      $("countdown").textContent = m.winner ? `Sold to ${m.winner} for ${money(m.amount)}` : "Ended without a sale";
    },
    cancelled(m) {
      if (m.seq <= seq) return;
      applyState({ ...m, status: "cancelled" });
      $("countdown").textContent = `Withdrawn by the seller: ${m.reason}`;
    },
    outbid(m) { if (String(m.lot) === lotId && $("you")) $("you").textContent = "You were outbid."; },
    bid_accepted(m) {
      $("feedback").textContent = m.leading === false
        ? `Your bid of ${money(m.amount)} was recorded, but another bidder's earlier maximum beat it at once (see the automatic bid in the history).`
        : `Bid of ${money(m.amount)} accepted.`;
      if ($("your-max")) $("your-max").textContent = m.max_amount ? `Your hidden maximum: ${money(m.max_amount)}` : "";
      mySeqs.add(m.seq);
      if (aliasBySeq.has(m.seq)) { myAlias = aliasBySeq.get(m.seq); showYou($("high-bidder").textContent); }
    },
    bid_rejected(m) {
      const sentence = (m.code === "forbidden" && FORBIDDEN[m.reason]) || (m.code === "invalid" && m.field === "max_amount" ? "Your maximum must be at least your bid, and can only be raised." : SENTENCES[m.code]) || m.message;
      $("feedback").textContent = sentence + (m.code === "too_low" ? ` Bid at least ${money(m.min_next_bid)}.` : "");
    },
    synced(m) { seq = Math.max(seq, m.seq); },
    resync() { requestSync(); },
    pong(m) { setServerTime(m.server_time); },
    error(m) { if (m.code === "rate_limited" && $("feedback")) $("feedback").textContent = SENTENCES.rate_limited; },
  };
  function requestSync() { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "sync", since_seq: Math.max(seq, 0) })); }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/ws/auctions/${lotId}/`);
    ws.onopen = () => { retry = 0; setConnected(true); };
    ws.onmessage = (e) => { const m = JSON.parse(e.data); if (handlers[m.type]) handlers[m.type](m); };
    ws.onclose = (e) => {
      setConnected(false);
      if (e.code === 4404) { $("status").textContent = "no such lot"; return; }
      if (e.code === 4503) retry = 0;  // the server is restarting: another worker takes us at once
      const delay = Math.min(30000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }
  function tick() {
    if (endsAt && status !== "closed") {
      const left = Math.max(0, endsAt - (Date.now() + offsetMs));
      const s = Math.floor(left / 1000);
      $("countdown").textContent = `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m ${s % 60}s`;
    }
  }
  const form = $("bid-form");
  if (form) form.addEventListener("submit", (e) => {
    e.preventDefault();
    const cents = toCents($("amount").value.trim());
    const rawMax = $("max-amount").value.trim();
    const maxCents = rawMax ? toCents(rawMax) : null;
    if (cents === null || (rawMax && maxCents === null)) { $("feedback").textContent = SENTENCES.invalid; return; }
    const message = { type: "bid", amount: cents, bid_id: newBidId() };
    if (maxCents !== null) message.max_amount = maxCents;
    ws.send(JSON.stringify(message));
  });
  if ($("buy-now")) $("buy-now").addEventListener("click", () => {
    if (confirm(`Buy this lot now for ${money(buyNow)}?`)) ws.send(JSON.stringify({ type: "buy_now", bid_id: newBidId() }));
  });
  setInterval(tick, 250);
  connect();
})();
