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
    rate_limited: "You are bidding too fast. Wait a moment.",
    busy: "The lot is very busy right now. Try again.",
    unavailable: "Bidding is briefly unavailable. Try again in a moment.",
  };
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
  function addHistory(amount, bidder, mine) {
    const li = document.createElement("li");
    li.textContent = `${money(amount)} — ${bidder || ""}${mine ? " (you)" : ""}`;
    $("history").prepend(li);
  }
  async function loadHistory() {  // the snapshot has no history; the API does
    try {
      const body = await (await fetch(`/api/lots/${lotId}/bids/`, { credentials: "same-origin" })).json();
      $("history").replaceChildren();
      for (const b of body.bids.slice().reverse()) addHistory(b.amount, b.bidder, b.yours);
    } catch (e) { /* live events still arrive; the list fills as bids come */ }
  }
  function applyState(m) {
    if (m.seq !== undefined) seq = m.seq;
    if (m.ends_at) endsAt = Date.parse(m.ends_at);
    if (m.min_next_bid !== undefined) { minNext = m.min_next_bid; if ($("min-next")) $("min-next").textContent = money(minNext); }
    if (m.bid_count !== undefined) $("bid-count").textContent = m.bid_count;
    if (m.status) { status = m.status; $("status").textContent = status; }
    setConnected(ws && ws.readyState === WebSocket.OPEN);
  }
  const handlers = {
    snapshot(m) {
      setServerTime(m.server_time);
      myAlias = m.you && m.you.alias;
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
      addHistory(m.amount, m.bidder, m.bidder === myAlias);
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
      $("feedback").textContent = `Bid of ${money(m.amount)} accepted.`;
      mySeqs.add(m.seq);
      if (aliasBySeq.has(m.seq)) { myAlias = aliasBySeq.get(m.seq); showYou($("high-bidder").textContent); }
    },
    bid_rejected(m) {
      $("feedback").textContent = SENTENCES[m.code] + (m.code === "too_low" ? ` Bid at least ${money(m.min_next_bid)}.` : "");
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
    ws.onclose = () => {
      setConnected(false);
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
    const raw = $("amount").value.trim();
    if (!/^\d+(\.\d{1,2})?$/.test(raw)) { $("feedback").textContent = SENTENCES.invalid; return; }
    const [whole, frac = ""] = raw.split(".");
    const cents = Number(whole) * 100 + Number(frac.padEnd(2, "0"));
    const bidId = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
    ws.send(JSON.stringify({ type: "bid", amount: cents, bid_id: bidId }));
  });
  setInterval(tick, 250);
  connect();
})();
