// The lot page: one socket; a countdown on the server's clock; reconnect with backoff and jitter, then `sync` from
// the last sequence number seen, so nothing is missed; bidding disabled while disconnected.
// Bidding asks first (an in-page dialog, skippable for the session) and always asks before you raise your own
// lead; a bid that cannot be sent says why. Screen readers hear only what matters (a new price, outbid, won, an
// extension) through two hidden live regions the script writes sentences into; the countdown is in neither.
(() => {
  const { money, readAmount, newId, clock, left, api, liveSocket } = window.Gavel;
  const root = document.getElementById("lot");
  const lotId = root.dataset.lotId;
  const $ = (id) => document.getElementById(id);
  // Refusals arrive as sentences (`message`); only the page's own reading of what was typed speaks for itself.
  const SKIP_CONFIRM = "gavel.skipBidConfirm";  // sessionStorage: "don't ask again this session"
  const URGENT_MS = 5 * 60 * 1000;  // an extension this close to the end is announced assertively
  let ws = null, seq = -1, endsAt = null, minNext = null, status = "", myAlias = null, hasReserve = false;
  let increments = [];  // [[upper bound or null, step], …] from the snapshot: the server's table
  let buyNow = null, pingSent = null, leading = null, lastBidId = null, lastBid = null;
  let high = null, highBidder = null, startsAt = null;
  // A finished lot's outcome (the server's rule: auctions/payloads.py `outcome`) and whether we won it.
  let outcome = null, youWon = false;
  let lastSent = { id: null, fromForm: false, raise: false };
  const mySeqs = new Set(), aliasBySeq = new Map();  // learn our alias from our first accepted bid

  // Times in the visitor's own zone and language.
  const WHEN = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
  const DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  function showTime(el, ms) {
    if (!el || ms === null || Number.isNaN(ms)) return;
    el.dateTime = new Date(ms).toISOString();
    el.textContent = WHEN.format(ms);
  }
  function timeOf(iso) {  // a history row's time: the clock, and the day when it is not today
    const t = document.createElement("time");
    const at = new Date(iso);
    t.dateTime = at.toISOString();
    t.textContent = (at.toDateString() === new Date().toDateString() ? "" : `${DAY.format(at)}, `) + CLOCK.format(at);
    t.title = WHEN.format(at);
    return t;
  }
  const span = (seconds) => seconds % 60 === 0
    ? (seconds === 60 ? "1 minute" : `${seconds / 60} minutes`)
    : (seconds === 1 ? "1 second" : `${seconds} seconds`);
  let shownRules = null;
  function showRules(lot) {  // start, end cap and the soft-close rule, from the lot's own fields
    shownRules = lot;
    if (lot.starts_at) startsAt = Date.parse(lot.starts_at);
    showTime($("starts-at"), startsAt);
    const rule = $("soft-close");
    if (!rule || lot.soft_close_window === undefined) return;
    const cap = lot.hard_end_at ? ` It never ends later than ${WHEN.format(Date.parse(lot.hard_end_at))}.` : "";
    rule.textContent = lot.soft_close_window > 0 && lot.soft_close_extension > 0
      ? `A bid in the last ${lot.soft_close_window === 60 ? "minute" : span(lot.soft_close_window)} extends the end to at least ${span(lot.soft_close_extension)} after that bid.${cap}`
      : "Bids do not extend the end.";
  }

  // Two visually hidden live regions: polite for news, assertive for what cannot wait. A burst of bids (a maximum
  // answering another) is announced once, as its last state.
  let politeTimer = null, toldPrice = null;  // toldPrice: the price the last "outbid" sentence gave
  function write(el, text) { el.textContent = el.textContent === text ? `${text}\u00a0` : text; }
  function announce(text, urgent = false) {
    const el = $(urgent ? "announce-urgent" : "announce-polite");
    if (!el || !text) return;
    clearTimeout(politeTimer);
    politeTimer = null;
    if (urgent) { write(el, text); return; }
    politeTimer = setTimeout(() => { politeTimer = null; write(el, text); }, 300);
  }

  function setYou(state) {
    const was = leading;
    leading = state;
    const el = $("you");
    if (el) {
      el.className = "you " + (state === true ? "leading" : state === false ? "outbid" : "");
      el.textContent = state === true ? "You are the high bidder." : state === false ? "You were outbid." : "";
    }
    if (state === false && feedbackKind === "ok") feedback("", false);  // no "accepted" under "You were outbid"
    if (was !== state) renderQuick();
  }
  function showLeader(bidder) { if (myAlias) setYou(bidder === myAlias); }
  function learnAlias(alias) {
    if (!alias || alias === myAlias) return;
    myAlias = alias;
    for (const li of document.querySelectorAll("#history li")) if (li.dataset.bidder === alias) markMine(li);
  }
  let feedbackKind = "";  // "ok", "bad" or "" (none): a success is cleared when you are outbid
  function feedback(text, bad = false, { speak = true } = {}) {
    const el = $("feedback");
    if (el) { el.textContent = text; el.className = "feedback" + (bad ? " bad" : ""); }
    feedbackKind = text ? (bad ? "bad" : "ok") : "";
    if (speak && text) announce(text, bad);
  }
  function canBid() { return ws !== null && ws.open && status === "open"; }
  function whyNot() {  // why a bid was not sent, when canBid() is false
    if (status === "scheduled") return `Not sent: this lot opens for bids ${startsAt !== null ? `at ${WHEN.format(startsAt)}` : "later"}.`;
    if (status === "closed" || status === "cancelled") return "Not sent: this lot has ended.";
    if (ws === null || !ws.open) return "Not sent: the connection to the auction is down. Reconnecting… bid again once it shows live.";
    return "Not sent: the lot is still loading. Try again in a moment.";
  }
  function setConnected(on) {
    $("conn").textContent = on ? "live" : "reconnecting…";
    $("conn").className = on ? "conn live" : "conn";
    // aria-disabled, not disabled: Enter in the form and a click still arrive, and are told why nothing was sent.
    const off = !canBid();
    for (const b of document.querySelectorAll("#bid-button, #quick button, #buy-now")) {
      if (off) b.setAttribute("aria-disabled", "true"); else b.removeAttribute("aria-disabled");
    }
  }
  function quickButton(text, onClick) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = text;
    if (!canBid()) b.setAttribute("aria-disabled", "true");
    b.addEventListener("click", onClick);
    return b;
  }
  function renderQuick() {
    const box = $("quick");
    if (!box || minNext === null) return;
    box.replaceChildren();
    if (leading === true) {
      // A quick bid now would only raise your own price: offer a higher secret maximum instead.
      const note = document.createElement("span");
      note.className = "quick-note";
      note.textContent = "You lead, so quick bids are off.";
      const raise = quickButton("Raise your maximum", () => {
        $("amount").value = "";
        $("max-amount").scrollIntoView({ block: "center" });
        $("max-amount").focus({ preventScroll: true });
        feedback("Enter your new maximum and press Bid: the price stays where it is until someone bids against you.", false, { speak: false });
      });
      raise.id = "raise-offer";
      box.append(note, raise);
      return;
    }
    // The next three amounts the increment table allows, starting at the minimum.
    let amount = minNext;
    for (let i = 0; i < 3; i++) {
      const cents = amount;
      const b = quickButton(`Bid ${money(cents)}`, () => placeBid(cents, null, { fromForm: false }));
      b.dataset.cents = cents;
      box.append(b);
      amount += increment(amount);
    }
  }
  function increment(cents) {  // for the quick-bid amounts only: the server decides every bid
    for (const [upper, step] of increments) if (upper === null || cents < upper) return step;
    return 0;
  }
  function markMine(li) {
    if (li.classList.contains("mine")) return;
    li.classList.add("mine");
    li.querySelector(".who").textContent = `${li.dataset.bidder} (you)`;
  }
  function historyRow({ seq: rowSeq, amount, bidder, mine, kind, beaten, at }) {
    const li = document.createElement("li");
    li.dataset.seq = rowSeq;
    li.dataset.bidder = bidder || "";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = bidder || "";
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = [kind === "automatic" ? "automatic bid" : kind === "buy_now" ? "bought now" : "", beaten ? "outbid at once" : ""].filter(Boolean).join(" · ");
    const price = document.createElement("strong");
    price.textContent = money(amount);
    li.append(price, who, tag);
    if (at) li.append(timeOf(at));
    if (mine) markMine(li);
    $("history").prepend(li);
  }
  async function loadHistory() {  // the snapshot has no history; the API does
    const { ok, data } = await api("GET", `/api/lots/${lotId}/bids/`);
    if (!ok) return;
    $("history").replaceChildren();
    for (const b of data.bids.slice().reverse()) {
      if (b.yours) learnAlias(b.bidder);
      historyRow({ seq: b.seq, amount: b.amount, bidder: b.bidder, mine: b.yours, kind: b.kind, beaten: b.outbid_at_once, at: b.at });
    }
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
      detail = `Your price: ${money(o.amount)}.` + (o.total ? ` Total to pay: ${money(o.total.total)}, itemised below.` : "");
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
    if (o.result === "sold" && (won || root.dataset.seller === "1")) loadAfterSale();
  }
  // "What happens next" (the itemised total and the seller's instructions) is the server's, for the winner and the
  // seller alone: a page that saw the lot end live fetches it from the page as now served, once.
  let afterSaleAsked = false;
  async function loadAfterSale() {
    const section = $("after-sale");
    if (!section || !section.hidden || afterSaleAsked) return;
    afterSaleAsked = true;
    try {
      const response = await fetch(location.pathname, { credentials: "same-origin" });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("after-sale");
      if (fresh && !fresh.hidden) section.replaceWith(document.importNode(fresh, true));
      else afterSaleAsked = false;  // not decided yet: the next render asks again
    } catch (e) { afterSaleAsked = false; }
  }
  function flashChange(id) { const el = $(id); el.classList.remove("changed"); void el.offsetWidth; el.classList.add("changed"); }
  function applyState(m) {
    if (m.seq !== undefined) seq = m.seq;
    if (m.ends_at) { endsAt = Date.parse(m.ends_at); showTime($("ends-at"), endsAt); }
    if (m.type === "snapshot") { high = m.high_bid ? m.high_bid.amount : null; highBidder = m.high_bid ? m.high_bid.bidder : null; }
    if (m.lot && typeof m.lot === "object") showRules(m.lot);
    if (m.min_next_bid !== undefined) { minNext = m.min_next_bid; if ($("min-next")) $("min-next").textContent = money(minNext); renderQuick(); }
    if (m.bid_count !== undefined) $("bid-count").textContent = m.bid_count;
    if (m.status) { status = m.status; $("status").textContent = status; $("status").className = `pill ${status}`; }
    if (m.reserve_met !== undefined) $("reserve").textContent = hasReserve ? (m.reserve_met ? "met" : "not met") : "none";
    if (m.watchers !== undefined) $("watchers").textContent = m.watchers;
    if ($("buy-now")) $("buy-now").hidden = !(buyNow && status === "open");
    setConnected(ws !== null && ws.open);
    tick();
  }
  function showExtended() {
    $("extended").hidden = false; flashChange("countdown"); setTimeout(() => { $("extended").hidden = true; }, 4000);
  }
  const handlers = {
    snapshot(m) {
      clock.observe(m.server_time);
      myAlias = m.you && m.you.alias;
      hasReserve = m.lot.has_reserve;
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
      if (mySeqs.has(m.seq)) learnAlias(m.bidder);
      high = m.amount; highBidder = m.bidder;
      $("high").textContent = money(m.amount);
      $("high-bidder").textContent = m.bidder;
      flashChange("high");
      historyRow({
        seq: m.seq, amount: m.amount, bidder: m.bidder, mine: m.bidder === myAlias,
        kind: m.buy_now ? "buy_now" : m.automatic ? "automatic" : "manual", beaten: m.outbid_at_once, at: m.server_time,
      });
      buyNow = null;  // offered until the first bid
      if (m.extended) showExtended();
      applyState(m);
      showLeader(m.bidder);
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
    extended(m) {  // staff moved the end later, or the server did after an outage that stopped bids
      if (m.seq <= seq) return;
      if (m.seq > seq + 1 && seq >= 0) { requestSync(); return; }
      clock.observe(m.server_time);
      applyState(m);
      if (shownRules && m.hard_end_at !== undefined) showRules({ ...shownRules, hard_end_at: m.hard_end_at });  // an outage moves it
      showExtended();
      feedback(m.cause === "outage"
        ? `Bids could not be placed for ${Math.round(m.outage_seconds)} s, so the end moved later to give that time back.`
        : `The end was extended: ${m.reason}`, false, { speak: false });  // announced with the new end
    },
    banned(m) { feedback(`Your account may no longer bid: ${m.reason}`, true); },
    outbid(m) { if (String(m.lot) === lotId) setYou(false); },
    won(m) { if (String(m.lot) === lotId) { youWon = true; renderOutcome(); } },  // also announced (speak)
    bid_accepted(m) {
      mySeqs.add(m.seq);
      // Our bid's own row may already be in the history (its broadcast can overtake this answer): mark it now.
      learnAlias(aliasBySeq.get(m.seq));
      const sent = m.bid_id === lastSent.id ? lastSent : null;
      if (m.leading === false) {
        feedback(`Your bid of ${money(m.amount)} was recorded, but another bidder's earlier maximum beat it at once (see the automatic bid in the history).`, true);
        setYou(false);
      } else {
        feedback(sent && sent.raise && m.max_amount
          ? `Your secret maximum is now ${money(m.max_amount)}; the price stays ${money(m.amount)}.`
          : m.automatic ? `You lead at ${money(m.amount)} (raised automatically for your maximum).` : `Bid of ${money(m.amount)} accepted.`);
        // A later bid by someone else may already be here: then this one no longer leads.
        setYou(!(myAlias && highBidder && m.seq < seq && highBidder !== myAlias));
      }
      if ($("your-max")) $("your-max").textContent = m.max_amount ? `Your secret maximum: ${money(m.max_amount)}` : "";
      if (sent && sent.fromForm) { $("amount").value = ""; $("max-amount").value = ""; }
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
  // What a screen reader hears after a message: only what changed that matters. `was`: seq and leading before it.
  function speak(m, was) {
    const moved = typeof m.seq === "number" && seq > was.seq;  // a lot event applied now, not a replayed copy
    const parts = [];
    let urgent = false;
    if (was.leading === true && leading === false && m.type !== "bid_accepted") {  // bid_accepted says it itself
      toldPrice = m.type === "outbid" ? m.amount : high;
      parts.push(`You were outbid: the bid is now ${money(toldPrice)}.`);
      urgent = true;
    } else if (m.type === "high_bid" && moved) {
      if (m.bidder !== myAlias && m.amount !== toldPrice) parts.push(`New bid: ${money(m.amount)} by ${m.bidder}.`);
      else if (m.automatic && !mySeqs.has(m.seq)) parts.push(`Your maximum answered a bid: you lead at ${money(m.amount)}.`);
      // (your own bid: its acceptance is announced)
    }
    if (moved && ((m.type === "high_bid" && m.extended) || m.type === "extended")) {
      parts.push(`The end was extended${m.reason ? ` (${m.reason})` : ""}: it now ends at ${CLOCK.format(endsAt)}.`);
      if (endsAt - clock.now() < URGENT_MS) urgent = true;
    }
    if (m.type === "won" && String(m.lot) === lotId) parts.push(`You won this lot for ${money(m.amount)}!`);
    if (m.type === "closed" && moved && !(myAlias && m.winner === myAlias)) {
      parts.push(m.winner ? `Bidding has ended: sold for ${money(m.amount)}.` : "Bidding has ended without a sale.");
    }
    if (m.type === "cancelled" && moved) parts.push(`This lot was withdrawn: ${m.reason}`);
    if (m.type === "opened" && moved) parts.push("Bidding is open.");
    if (parts.length) announce(parts.join(" "), urgent);
  }
  function dispatch(m) {
    const was = { seq, leading };
    handlers[m.type](m);
    speak(m, was);
  }
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
      dispatch(m);
      if (since < m.seq) socket.send(JSON.stringify({ type: "sync", since_seq: since }));
      if (lastBid) socket.send(JSON.stringify(lastBid));  // retry an unanswered bid: same bid_id, same answer
      return;
    }
    greeted = true;
    // A personal notice about another lot (it arrives on every socket of ours) is not this page's state.
    if (typeof m.lot === "number" && String(m.lot) !== lotId) return;
    // A bid means the lot has started, even before its `opened` event arrives.
    if (m.type === "high_bid" && status === "scheduled") applyState({ status: "open" });
    if (handlers[m.type]) dispatch(m);
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
    if (endsAt && status === "open") $("countdown").textContent = left(endsAt);
    else if (startsAt && status === "scheduled") {  // the `opened` event opens it: until then, bidding waits
      $("countdown").textContent = clock.now() < startsAt ? `opens in ${left(startsAt)}` : "opening…";
    }
    const started = status === "scheduled" ? "Opens at" : startsAt !== null && startsAt <= clock.now() ? "Started" : "Starts";
    const label = $("starts-label");
    if (label && label.textContent !== started) label.textContent = started;
  }

  // Asking first: a modal <dialog> (focus moves into it, Escape cancels, focus returns where it was).
  function skipConfirm() { try { return sessionStorage.getItem(SKIP_CONFIRM) === "1"; } catch (e) { return false; } }
  function ask({ title, text, yes, skippable }) {
    const dialog = $("confirm-bid");
    return new Promise((resolve) => {
      const opener = document.activeElement;
      let answer = false;
      $("confirm-title").textContent = title;
      $("confirm-text").textContent = text;
      $("confirm-yes").textContent = yes;
      $("confirm-skip-row").hidden = !skippable;
      $("confirm-skip").checked = false;
      $("confirm-yes").onclick = () => { answer = true; dialog.close(); };
      $("confirm-no").onclick = () => dialog.close();
      dialog.onclose = () => {
        dialog.onclose = null;
        if (answer && skippable && $("confirm-skip").checked) { try { sessionStorage.setItem(SKIP_CONFIRM, "1"); } catch (e) { /* private mode */ } }
        if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
        resolve(answer);
      };
      dialog.showModal();
      // Raising your own lead is the accident this guards against: there, the safe answer has the focus.
      $(skippable ? "confirm-yes" : "confirm-no").focus();
    });
  }
  async function placeBid(cents, maxCents, { fromForm }) {
    if (!canBid()) { feedback(whyNot(), true); return; }
    const raise = leading === true && maxCents !== null;  // changes no visible price (docs/protocol.md)
    if (leading === true && maxCents === null) {
      const go = await ask({
        title: "You are already the high bidder",
        text: `You lead at ${money(high)}. A bid of ${money(cents)} raises the price you would pay to ${money(cents)}. To bid more only if someone outbids you, raise your secret maximum instead.`,
        yes: `Bid ${money(cents)} anyway`,
        skippable: false,
      });
      if (!go) { feedback(`Not sent: you are still the high bidder at ${money(high)}.`, false, { speak: false }); return; }
    } else if (!skipConfirm()) {
      const go = await ask({
        title: raise ? "Raise your maximum?" : "Confirm your bid",
        text: raise
          ? `Raise your secret maximum to ${money(maxCents)}? We bid for you only when someone bids against you, up to that amount.`
          : `Bid ${money(cents)}${maxCents !== null ? `, with a secret maximum of ${money(maxCents)}` : ""}? A bid is binding: if it wins, you buy the lot at the final price.`,
        yes: raise ? `Raise to ${money(maxCents)}` : `Confirm bid of ${money(cents)}`,
        skippable: true,
      });
      if (!go) { feedback("Bid cancelled: nothing was sent.", false, { speak: false }); return; }
    }
    if (!canBid()) { feedback(whyNot(), true); return; }  // the connection may have dropped while we asked
    const message = { type: "bid", amount: cents, bid_id: newId() };
    if (maxCents !== null) message.max_amount = maxCents;
    lastBidId = message.bid_id; lastBid = message;
    lastSent = { id: message.bid_id, fromForm, raise };
    feedback("Sending…", false, { speak: false });
    ws.send(message);
  }
  const form = $("bid-form");
  if (form) form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!canBid()) { feedback(whyNot(), true); return; }
    const rawAmount = $("amount").value.trim();
    const rawMax = $("max-amount").value.trim();
    const max = rawMax ? readAmount(rawMax) : { cents: null };
    // A maximum alone bids the minimum now and lets the system bid for you up to it (or raises it, while you lead).
    const bid = rawAmount || !rawMax ? readAmount(rawAmount) : { cents: Math.min(minNext, max.cents ?? minNext) };
    if (bid.problem || max.problem) { feedback(bid.problem || `Maximum: ${max.problem}`, true); return; }
    placeBid(bid.cents, max.cents, { fromForm: true });
  });
  if ($("buy-now")) $("buy-now").addEventListener("click", () => {
    if (!canBid()) { feedback(whyNot(), true); return; }
    if (confirm(`Buy this lot now for ${money(buyNow)}?`)) ws.send({ type: "buy_now", bid_id: newId() });
  });
  const watch = $("watch");
  if (watch) watch.addEventListener("click", async () => {
    const on = watch.dataset.watching !== "1";
    const { ok } = await api(on ? "PUT" : "DELETE", `/api/me/watchlist/${lotId}/`);
    if (ok) { watch.dataset.watching = on ? "1" : "0"; watch.textContent = on ? "On your watchlist ✓" : "Add to watchlist"; }
  });
  // The times the page was rendered with, in the visitor's zone, until the snapshot brings the live ones.
  for (const id of ["starts-at", "ends-at"]) { const el = $(id); if (el && el.dateTime) showTime(el, Date.parse(el.dateTime)); }
  const served = $("lot-outcome");  // how a finished lot ended, as the page was served: shown before the socket opens
  if (served) { const o = JSON.parse(served.textContent); setOutcome(o, o && o.you_won); }
  setInterval(tick, 200);
  setInterval(ping, 15000);  // keeps the clock estimate fresh, and an idle page's seq checked (pong.seq)
  connect();
})();
