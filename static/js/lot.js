// The lot page: one socket; a countdown on the server's clock; reconnect with backoff and jitter, then `sync` from
// the last sequence number seen, so nothing is missed; bidding disabled while disconnected.
(() => {
  const { money, toCents, newId, clock, left, api, liveSocket } = window.Gavel;
  const root = document.getElementById("lot");
  const lotId = root.dataset.lotId;
  const $ = (id) => document.getElementById(id);
  // Refusals arrive as sentences (`message`); only the page's own check of what was typed speaks for itself.
  const UNREADABLE = "That bid could not be read. Enter an amount like 12.50.";
  let ws = null, seq = -1, endsAt = null, minNext = null, status = "", myAlias = null, hasReserve = false;
  let increments = [];  // [[upper bound or null, step], …] from the snapshot: the server's table
  let buyNow = null, pingSent = null, leading = null, lastBidId = null, lastBid = null;
  const mySeqs = new Set(), aliasBySeq = new Map();  // learn our alias from our first accepted bid
  // A finished lot's outcome (the server's rule: auctions/payloads.py `outcome`), and whether we won it; a scheduled
  // lot's start, for "Opens at" and the countdown to it.
  let outcome = null, youWon = false, startsAt = null;

  function setYou(state) {
    leading = state;
    const el = $("you");
    if (!el) return;
    el.className = "you " + (state === true ? "leading" : state === false ? "outbid" : "");
    el.textContent = state === true ? "You are the high bidder." : state === false ? "You were outbid." : "";
  }
  function showLeader(bidder) { if (myAlias) setYou(bidder === myAlias); }
  function feedback(text, bad = false) { const el = $("feedback"); if (el) { el.textContent = text; el.className = "feedback" + (bad ? " bad" : ""); } }
  function canBid() { return ws !== null && ws.open && status === "open"; }
  function setConnected(on) {
    $("conn").textContent = on ? "live" : "reconnecting…";
    $("conn").className = on ? "conn live" : "conn";
    for (const b of document.querySelectorAll("#bid-button, #quick button, #buy-now")) b.disabled = !canBid();
  }
  function renderQuick() {
    const box = $("quick");
    if (!box || minNext === null) return;
    box.replaceChildren();
    // The next three amounts the increment table allows, starting at the minimum.
    let amount = minNext;
    for (let i = 0; i < 3; i++) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = money(amount); b.dataset.cents = amount; b.disabled = !canBid();
      b.addEventListener("click", () => sendBid(Number(b.dataset.cents), null));
      box.append(b);
      amount += increment(amount);
    }
  }
  function increment(cents) {  // for the quick-bid amounts only: the server decides every bid
    for (const [upper, step] of increments) if (upper === null || cents < upper) return step;
    return 0;
  }
  function historyRow(amount, bidder, mine, kind, beaten) {
    const li = document.createElement("li");
    if (mine) li.className = "mine";
    const who = document.createElement("span");
    who.textContent = `${bidder || ""}${mine ? " (you)" : ""}`;
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = [kind === "automatic" ? "automatic bid" : kind === "buy_now" ? "bought now" : "", beaten ? "outbid at once" : ""].filter(Boolean).join(" · ");
    const price = document.createElement("strong");
    price.textContent = money(amount);
    li.append(price, who, tag);
    $("history").prepend(li);
  }
  async function loadHistory() {  // the snapshot has no history; the API does
    const { ok, data } = await api("GET", `/api/lots/${lotId}/bids/`);
    if (!ok) return;
    $("history").replaceChildren();
    for (const b of data.bids.slice().reverse()) historyRow(b.amount, b.bidder, b.yours, b.kind, b.outbid_at_once);
  }
  // The outcome panel replaces the bid form once the lot is over: from the outcome the page was served with, the
  // snapshot, or the live `closed` / `cancelled` event. Our alias may be learnt after the close (a buy now's reply
  // can come after its `closed`), so it is drawn again whenever that may have changed.
  function setOutcome(next, won) {
    outcome = next || null;
    youWon = youWon || !!won;
    renderOutcome();
  }
  function renderOutcome() {
    const panel = $("outcome");
    if (!panel) return;
    panel.hidden = outcome === null;
    if (outcome === null) return;
    root.dataset.finished = "1";
    for (const id of ["bid-form", "login-to-bid"]) if ($(id)) $(id).hidden = true;
    const o = outcome, won = o.result === "sold" && (youWon || (myAlias !== null && o.winner === myAlias));
    let title, detail = "";
    if (won) {
      title = "You won this lot";
      detail = `Your price: ${money(o.amount)}.`;
    } else if (o.result === "sold") {
      title = `Sold for ${money(o.amount)}`;
      detail = [o.winner ? `Won by ${o.winner}.` : "", myAlias ? "You did not win this lot." : ""].filter(Boolean).join(" ");
    } else if (o.result === "not_sold" && o.reason === "reserve_not_met") {
      title = "Not sold: the reserve was not met";
      detail = `The highest bid, ${money(o.high_bid)}, was below the seller's reserve.`;
    } else if (o.result === "not_sold") {
      title = "Not sold: there were no bids";
    } else if (o.result === "withdrawn") {
      title = `Withdrawn: ${o.reason || "no reason given"}`;
      detail = "This lot will not be sold; bids on it no longer stand.";
    } else {
      title = "Bidding has ended";
      detail = "The result is being confirmed…";
    }
    panel.className = "card outcome" + (won ? " won" : "");
    if ($("outcome-title").textContent !== title) $("outcome-title").textContent = title;
    if ($("outcome-detail").textContent !== detail) $("outcome-detail").textContent = detail;
    $("countdown").textContent = o.result === "withdrawn" ? "withdrawn" : "ended";
  }
  function flashChange(id) { const el = $(id); el.classList.remove("changed"); void el.offsetWidth; el.classList.add("changed"); }
  function applyState(m) {
    if (m.seq !== undefined) seq = m.seq;
    if (m.ends_at) endsAt = Date.parse(m.ends_at);
    if (m.min_next_bid !== undefined) { minNext = m.min_next_bid; if ($("min-next")) $("min-next").textContent = money(minNext); renderQuick(); }
    if (m.bid_count !== undefined) $("bid-count").textContent = m.bid_count;
    if (m.status) { status = m.status; $("status").textContent = status; $("status").className = `pill ${status}`; }
    if (m.reserve_met !== undefined) $("reserve").textContent = hasReserve ? (m.reserve_met ? "met" : "not met") : "none";
    if (m.watchers !== undefined) $("watchers").textContent = m.watchers;
    if ($("buy-now")) $("buy-now").hidden = !(buyNow && status === "open");
    setConnected(ws !== null && ws.open);
    tick();
  }
  const handlers = {
    snapshot(m) {
      clock.observe(m.server_time);
      myAlias = m.you && m.you.alias;
      hasReserve = m.lot.has_reserve;
      startsAt = Date.parse(m.lot.starts_at);
      if ($("opens-at")) $("opens-at").textContent = new Date(startsAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
      increments = m.increments;
      buyNow = m.buy_now_price;
      if ($("buy-now-price") && buyNow) $("buy-now-price").textContent = money(buyNow);
      if ($("your-max")) $("your-max").textContent = m.you && m.you.max_amount ? `Your secret maximum: ${money(m.you.max_amount)}` : "";
      $("high").textContent = m.high_bid ? money(m.high_bid.amount) : "no bids yet";
      $("high-bidder").textContent = m.high_bid ? m.high_bid.bidder : "";
      if (m.high_bid) showLeader(m.high_bid.bidder);
      applyState(m);
      if (status === "closed" || status === "cancelled") $("countdown").textContent = "ended";
      setOutcome(m.outcome, m.outcome && m.outcome.you_won);
      loadHistory();
      ping();
      setTimeout(ping, 2500);  // by then this socket counts among the watchers
    },
    high_bid(m) {
      if (m.seq <= seq) return;  // already seen (replay overlap)
      if (m.seq > seq + 1 && seq >= 0) { requestSync(); return; }
      clock.observe(m.server_time);
      aliasBySeq.set(m.seq, m.bidder);
      if (mySeqs.has(m.seq)) myAlias = m.bidder;
      $("high").textContent = money(m.amount);
      $("high-bidder").textContent = m.bidder;
      flashChange("high");
      historyRow(m.amount, m.bidder, m.bidder === myAlias, m.buy_now ? "buy_now" : m.automatic ? "automatic" : "manual", m.outbid_at_once);
      buyNow = null;  // offered until the first bid
      if (m.extended) { $("extended").hidden = false; flashChange("countdown"); setTimeout(() => { $("extended").hidden = true; }, 4000); }
      showLeader(m.bidder);
      applyState(m);
    },
    closed(m) {
      if (m.seq <= seq) return;
      applyState({ ...m, status: "closed" });
      setOutcome(m.outcome);
    },
    cancelled(m) {
      if (m.seq <= seq) return;
      applyState({ ...m, status: "cancelled" });
      setOutcome(m.outcome || { result: "withdrawn", reason: m.reason });
    },
    opened(m) {  // the clock opened this scheduled lot: bidding starts without a reload
      if (m.seq <= seq) return;
      if (m.seq > seq + 1 && seq >= 0) { requestSync(); return; }
      clock.observe(m.server_time);
      buyNow = m.buy_now_price;
      if ($("buy-now-price") && buyNow) $("buy-now-price").textContent = money(buyNow);
      applyState(m);
    },
    won(m) { if (String(m.lot) === lotId) { youWon = true; renderOutcome(); } },  // our personal notice
    extended(m) {  // staff moved the end later
      if (m.seq <= seq) return;
      if (m.seq > seq + 1 && seq >= 0) { requestSync(); return; }
      clock.observe(m.server_time);
      applyState(m);
      $("extended").hidden = false; flashChange("countdown"); setTimeout(() => { $("extended").hidden = true; }, 4000);
      feedback(`The end was extended: ${m.reason}`);
    },
    banned(m) { feedback(`Your account may no longer bid: ${m.reason}`, true); },
    outbid(m) { if (String(m.lot) === lotId) setYou(false); },
    bid_accepted(m) {
      mySeqs.add(m.seq);
      if (aliasBySeq.has(m.seq)) { myAlias = aliasBySeq.get(m.seq); }
      if (m.leading === false) {
        feedback(`Your bid of ${money(m.amount)} was recorded, but another bidder's earlier maximum beat it at once (see the automatic bid in the history).`, true);
        setYou(false);
      } else {
        feedback(m.automatic ? `You lead at ${money(m.amount)} (raised automatically for your maximum).` : `Bid of ${money(m.amount)} accepted.`);
        setYou(true);
      }
      if ($("your-max")) $("your-max").textContent = m.max_amount ? `Your secret maximum: ${money(m.max_amount)}` : "";
      if (m.bid_id === lastBidId) lastBid = null;
    },
    bid_rejected(m) {
      if (m.bid_id === lastBidId) lastBid = null;
      feedback(m.message + (m.code === "too_low" ? ` Bid at least ${money(m.min_next_bid)}.` : ""), true);
    },
    synced(m) { seq = Math.max(seq, m.seq); },
    resync() { requestSync(); },
    pong(m) {
      if (m.watchers !== undefined) $("watchers").textContent = m.watchers;
      // The lot's latest seq: an event lost on its way (the last bid, the close) shows here as a gap.
      if (typeof m.seq === "number" && seq >= 0 && m.seq > seq) requestSync();
      if (pingSent !== null) { clock.observe(m.server_time, performance.now() - pingSent); pingSent = null; tick(); }
    },
    error(m) {
      // A sync refused for its replay budget is served once the budget has refilled: ask again then, quietly.
      if (m.code === "rate_limited" && m.retry_after_ms) { setTimeout(requestSync, m.retry_after_ms); return; }
      if (m.code === "rate_limited") feedback(m.message, true);
    },
  };
  function ping() {
    if (ws !== null && pingSent === null && ws.send({ type: "ping" })) pingSent = performance.now();
  }
  function requestSync() { if (ws !== null) ws.send({ type: "sync", since_seq: Math.max(seq, 0) }); }
  let greeted = false;  // this connection's snapshot has arrived
  function onMessage(m, socket) {
    if (m.type === "snapshot" && !greeted && seq >= 0) {
      // A reconnect: the snapshot is the state now; `sync` replays what happened while we were away, in order.
      greeted = true;
      const since = seq;
      handlers.snapshot(m);
      if (since < m.seq) socket.send(JSON.stringify({ type: "sync", since_seq: since }));
      if (lastBid) socket.send(JSON.stringify(lastBid));  // retry an unanswered bid: same bid_id, same answer
      return;
    }
    greeted = true;
    // A personal notice about another lot (it arrives on every socket of ours) is not this page's state.
    if (typeof m.lot === "number" && String(m.lot) !== lotId) return;
    // A bid means the lot has started, even before its `opened` event arrives.
    if (m.type === "high_bid" && status === "scheduled") applyState({ status: "open" });
    if (handlers[m.type]) handlers[m.type](m);
    else if (typeof m.seq === "number") {  // a lot event this page does not know: keep the sequence whole
      if (m.seq === seq + 1) seq = m.seq;
      else if (m.seq > seq + 1 && seq >= 0) requestSync();
    }
    if (outcome !== null && (m.type === "bid_accepted" || m.type === "high_bid")) renderOutcome();  // our alias, learnt late
  }
  function connect() {
    ws = liveSocket(`/ws/auctions/${lotId}/`, {
      stopOn: [4404],
      onOpen() { greeted = false; setConnected(true); },
      onMessage,
      onClose(e) {
        setConnected(false);
        if (e.code === 4404) $("status").textContent = "no such lot";
      },
    });
  }
  function tick() {
    if ($("opens")) $("opens").hidden = status !== "scheduled";
    if (endsAt && status === "open") $("countdown").textContent = left(endsAt);
    else if (startsAt && status === "scheduled") {  // the `opened` event opens it: until then, bidding waits
      $("countdown").textContent = clock.now() < startsAt ? `opens in ${left(startsAt)}` : "opening…";
    }
  }
  function sendBid(cents, maxCents) {
    if (!canBid()) return;
    const message = { type: "bid", amount: cents, bid_id: newId() };
    if (maxCents !== null) message.max_amount = maxCents;
    lastBidId = message.bid_id; lastBid = message;
    feedback("Sending…");
    ws.send(message);
  }
  const form = $("bid-form");
  if (form) form.addEventListener("submit", (e) => {
    e.preventDefault();
    const cents = toCents($("amount").value);
    const rawMax = $("max-amount").value.trim();
    const maxCents = rawMax ? toCents(rawMax) : null;
    if (cents === null || (rawMax && maxCents === null)) { feedback(UNREADABLE, true); return; }
    sendBid(cents, maxCents);
  });
  if ($("buy-now")) $("buy-now").addEventListener("click", () => {
    if (canBid() && confirm(`Buy this lot now for ${money(buyNow)}?`)) ws.send({ type: "buy_now", bid_id: newId() });
  });
  const watch = $("watch");
  if (watch) watch.addEventListener("click", async () => {
    const on = watch.dataset.watching !== "1";
    const { ok } = await api(on ? "PUT" : "DELETE", `/api/me/watchlist/${lotId}/`);
    if (ok) { watch.dataset.watching = on ? "1" : "0"; watch.textContent = on ? "Watching ✓" : "Watch this lot"; }
  });
  const served = $("lot-outcome");  // how a finished lot ended, as the page was served: shown before the socket opens
  if (served) { const o = JSON.parse(served.textContent); setOutcome(o, o && o.you_won); }
  setInterval(tick, 200);
  setInterval(ping, 15000);  // keeps the clock estimate fresh, and an idle page's seq checked (pong.seq)
  connect();
})();
