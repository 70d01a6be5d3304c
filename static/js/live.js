// The internet bidder's page: one sale socket (ws/sales/<id>/); the lot on the block, one button that bids the ask
// (one tap, no confirmation: the amount is on the button), and where you stand. Lot events are sequenced per lot;
// a gap is repaired with `sync`, a reconnect starts from the new snapshot. Bidding is off while disconnected,
// paused, or with no lot open. Public events name the leader only as "room" or a bidder's alias on the lot: the
// alias our own accepted bid carried is "you", and so is the alias our absentee bid carries, read with our absentee
// maxima from a personal HTTP view (never from the broadcast, which is one message for everyone). The delay shown
// is the socket's measured round trip (ping → pong).
(() => {
  const { money, newId, api, liveSocket } = window.Gavel;
  const root = document.getElementById("sale");
  const saleId = Number(root.dataset.saleId);
  const $ = (id) => document.getElementById(id);
  const catalogue = JSON.parse($("sale-lots").textContent);
  const BIDDING = ["open", "fair_warning"];
  const PING_EVERY_MS = 5000;
  const registered = root.dataset.registered === "1";

  let ws = null, sale = null, you = null, block = null, inFlight = null;
  const lots = new Map();  // lot id → {seq, live_state, amount (the price last seen on it)}
  const mineOn = new Map();  // lot id → our side of it: {absentee_max, alias, absentee_result}
  let pingSentAt = null, delayMs = null;
  const aliasOn = new Map();  // lot id → our alias on it, learnt from our accepted bid
  const bidOn = new Set();  // lots we bid on: a leader other than us there means "outbid"

  const lotName = (id) => { const c = catalogue[String(id)]; return c ? `Lot ${c.position}: ${c.title}` : `Lot #${id}`; };
  function say(text) { const el = $("announce"); if (text) el.textContent = el.textContent === text ? `${text}\u00a0` : text; }
  function feedback(text, { speak = true } = {}) { if ($("feedback")) $("feedback").textContent = text; if (speak) say(text); }
  const state = () => (block ? block.live_state : null);
  const mine = () => block && block.bidder && aliasOn.get(block.lot) === block.bidder;

  function statusLine() {
    if (!sale) return "";
    if (sale.status === "scheduled") return "The sale has not started yet.";
    if (sale.status === "finished") return "The sale has finished.";
    if (!block) return "Waiting for the next lot.";
    const amount = money(block.amount);
    switch (state()) {
      case "sold":
        if (block.leader === "room") return `Sold to the room for ${amount}.`;
        return mine() ? `Sold to you for ${amount}!` : `Sold to another bidder for ${amount}.`;
      case "passed": return "Passed: not sold.";
      case "waiting": return sale.status === "paused" ? "The sale is paused." : "This lot is about to be offered.";
      default: break;
    }
    const warning = state() === "fair_warning" ? "Fair warning! " : "";
    if (sale.status === "paused") return "The sale is paused.";
    if (mine()) return `${warning}You're the high bidder.`;
    if (bidOn.has(block.lot) && block.amount !== null) return `${warning}You've been outbid.`;
    if (block.amount === null) return `${warning}Bidding is open: no bid yet.`;
    return `${warning}${block.leader === "room" ? "The room" : "Another bidder"} leads.`;
  }
  function canBid() {
    return ws !== null && ws.open && sale !== null && sale.status === "running" && block !== null
      && BIDDING.includes(state()) && typeof block.ask === "number" && !mine() && inFlight === null
      && (you === null || you.approved !== false);
  }
  function render() {
    const connected = ws !== null && ws.open;
    $("conn").textContent = connected ? "live" : "reconnecting…";
    $("conn").className = connected ? "conn live" : "conn";
    $("delay").textContent = connected && delayMs !== null ? `${delayMs} ms` : "–";
    $("sale-status").textContent = sale ? sale.status : "connecting…";
    $("sale-status").className = `pill ${sale ? sale.status : ""}`;
    const banner = $("pause-banner");
    banner.hidden = !(sale && sale.status === "paused");
    banner.textContent = sale && sale.status === "paused" ? `Paused${sale.pause_message ? `: ${sale.pause_message}` : "."}` : "";
    const lotId = block ? block.lot : null;
    const c = lotId ? catalogue[String(lotId)] : null;
    $("block-title").textContent = lotId ? lotName(lotId) : "Waiting for the first lot";
    const photo = $("block-photo");
    if (c && c.photo) { if (photo.getAttribute("src") !== c.photo) photo.src = c.photo; photo.alt = c.title; photo.hidden = false; }
    else photo.hidden = true;
    $("amount").textContent = block && block.amount !== null ? money(block.amount) : "no bid yet";
    const line = statusLine();
    const el = $("status-line");
    if (el.textContent !== line) el.textContent = line;
    el.className = "status-line " + (mine() ? "leading" : line.startsWith("You've been outbid") || line.includes("outbid") ? "outbid" : state() || "");
    const button = $("bid");
    if (button) {
      button.disabled = !canBid();
      const ask = block && typeof block.ask === "number" ? block.ask : null;
      button.textContent = ask !== null && BIDDING.includes(state()) ? `Bid ${money(ask)}` : "Bid";
    }
    renderLots();
  }
  function absenteeText(mine) {
    if (!mine || mine.absentee_max === null) return "";
    const max = money(mine.absentee_max);
    const r = mine.absentee_result;
    if (!r) return `Your absentee bid: up to ${max}.`;
    if (r.outcome === "won") return `Your absentee bid won at ${money(r.amount)}.`;
    if (r.outcome === "outbid") return `Your absentee bid (up to ${max}) was outbid at ${money(r.amount)}.`;
    if (r.outcome === "passed") return `Your absentee bid (up to ${max}) was not reached: the lot passed.`;
    return `Your absentee bid (up to ${max}) was not reached: the sale ended first.`;
  }
  function lotItem(id, row) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = lotName(id);
    li.append(name);
    if (row.live_state === "sold" || row.live_state === "passed") {
      const pill = document.createElement("span");
      pill.className = `pill ${row.live_state}`;
      pill.textContent = row.live_state === "sold" && typeof row.amount === "number" ? `sold ${money(row.amount)}` : row.live_state;
      li.append(" ", pill);
    }
    const text = absenteeText(mineOn.get(id));
    if (text) { const p = document.createElement("span"); p.className = "absentee"; p.textContent = text; li.append(" ", p); }
    return li;
  }
  function renderLots() {
    const ids = Object.keys(catalogue).map(Number).sort((x, y) => catalogue[String(x)].position - catalogue[String(y)].position);
    const current = sale ? sale.current_lot : null;
    const upcoming = [], done = [];
    for (const id of ids) {
      const row = lots.get(id);
      if (!row || id === current) continue;
      if (row.live_state === "waiting") upcoming.push(lotItem(id, row));
      else if (row.live_state === "sold" || row.live_state === "passed") done.push(lotItem(id, row));
    }
    $("upcoming").replaceChildren(...upcoming);
    $("upcoming-empty").hidden = upcoming.length > 0;
    $("results").replaceChildren(...done);
    $("results-section").hidden = done.length === 0;
    const now = current ? absenteeText(mineOn.get(current)) : "";
    $("block-absentee").textContent = now;
    $("block-absentee").hidden = !now;
  }

  let mineAsked = 0;
  async function loadMine() {  // our absentee maxima and aliases: ours alone, so read over HTTP, not broadcast
    if (!registered) return;
    const asked = ++mineAsked;
    const { ok, data } = await api("GET", `/sales/${saleId}/live/mine/`);
    if (!ok || asked !== mineAsked) return;  // a later read is on its way: an earlier answer must not overwrite it
    for (const row of data.lots) {
      mineOn.set(row.lot, row);
      if (row.alias) { aliasOn.set(row.lot, row.alias); bidOn.add(row.lot); }
    }
    render();
  }
  function addMessage(text) {
    const li = document.createElement("li");
    li.textContent = text;
    $("messages").prepend(li);
    say(text);
  }

  if ($("bid")) $("bid").addEventListener("click", () => {
    if (!canBid()) return;
    const message = { type: "live_bid", lot: block.lot, amount: block.ask, bid_id: newId() };
    if (!ws.send(message)) { feedback("Not sent: the connection is down. Reconnecting…"); return; }
    inFlight = message.bid_id;
    feedback(`Bidding ${money(message.amount)}…`, { speak: false });
    render();
  });
  if ($("register")) $("register").addEventListener("click", async () => {
    const { ok, data } = await api("POST", `/api/sales/${saleId}/registration/`);
    if (ok) { location.reload(); return; }
    $("register-feedback").textContent = (data && data.message) || "Registration failed: try again.";
  });

  function requestSync(lotId, since) { if (ws) ws.send({ type: "sync", lot: lotId, since_seq: since }); }
  const handlers = {
    sale_snapshot(m) {
      sale = m.sale;
      you = m.you;
      for (const row of m.lots) lots.set(row.id, { seq: row.seq, live_state: row.live_state, amount: row.amount ?? null });
      block = m.block;
      if (block && you && you.leading && block.bidder) { aliasOn.set(block.lot, block.bidder); bidOn.add(block.lot); }
      if (block) lots.get(block.lot).amount = block.amount;
      if (sale.status === "paused" && sale.pause_message) addMessage(`Paused: ${sale.pause_message}`);
      loadMine();
    },
    live(m) {
      const row = lots.get(m.lot);
      if (!row || m.seq <= row.seq) return;
      if (m.seq > row.seq + 1) { requestSync(m.lot, row.seq); return; }
      row.seq = m.seq;
      if (m.live_state) row.live_state = m.live_state;
      if (m.amount !== undefined) row.amount = m.amount;
      if (m.sale_status) sale.status = m.sale_status;
      // An absentee bid of ours executes on this lot: its alias (and, at the end, how it fared) is ours to read.
      if (mineOn.has(m.lot) && ["offered", "bid", "undone", "sold", "passed", "reopened"].includes(m.event)) loadMine();
      if (m.event === "on_block") { sale.current_lot = m.lot; feedback("", { speak: false }); }
      if (m.lot !== sale.current_lot) return;
      if (m.event === "moved_on") return;
      const was = statusLine();
      block = m;
      if (m.event === "paused") { sale.pause_message = m.message || ""; addMessage(m.message ? `Paused: ${m.message}` : "The sale is paused."); }
      if (m.event === "resumed") { sale.pause_message = ""; addMessage("The sale has resumed."); }
      if (m.event === "message") addMessage(m.message);
      if (m.event === "on_block") addMessage(`${lotName(m.lot)} is on the block.`);
      if (m.event === "reopened") addMessage(`${lotName(m.lot)} is open again.`);
      const now = statusLine();
      if (now !== was) say(now);
    },
    live_bid_accepted(m) {
      if (m.bid_id === inFlight) inFlight = null;
      aliasOn.set(m.lot, m.bidder);
      bidOn.add(m.lot);
      feedback(`Your bid of ${money(m.amount)} was taken.`, { speak: false });
    },
    live_bid_waiting(m) {
      if (m.bid_id === inFlight) inFlight = null;
      bidOn.add(m.lot);
      feedback(`Your bid of ${money(m.amount)} is waiting for the auctioneer to accept it.`);
    },
    bid_rejected(m) {
      if (m.bid_id === inFlight) inFlight = null;
      if (m.code === "too_low" && m.waiting) {
        feedback(`Not taken: another bidder's ${money(m.ask)} came first and waits for the auctioneer.`);
      } else if (m.code === "too_low" && typeof m.ask === "number") {
        if (block) block = { ...block, ask: m.ask };
        feedback(`Not taken: the ask is now ${money(m.ask)}.`);
      } else if (m.code === "closed") {
        feedback(`Too late: the hammer had fallen${typeof m.late_ms === "number" && m.late_ms > 0 ? ` ${m.late_ms} ms before your bid arrived` : ""}.`);
      } else feedback(`Not taken: ${m.message}`);
    },
    live_outbid(m) {
      bidOn.add(m.lot);
      if (m.waiting_bid_not_taken) feedback(`Your waiting bid was not taken: the bid is now ${money(m.amount)}.`);
    },
    bid_withdrawn(m) { feedback(m.message || "A bid was withdrawn."); },
    error(m) { if (m.code === "rate_limited") { inFlight = null; feedback(m.message); } },
    pong() { if (pingSentAt !== null) { delayMs = Math.round(performance.now() - pingSentAt); pingSentAt = null; } },
  };
  function connect() {
    ws = liveSocket(`/ws/sales/${saleId}/`, {
      stopOn: [4404],
      onOpen() { inFlight = null; ping(); render(); },
      onMessage(m) {
        // A personal notice about another sale's lot (it arrives on every socket of ours) is not this page's.
        if (m.sale !== undefined && m.sale !== saleId && m.type !== "sale_snapshot") return;
        if (handlers[m.type]) handlers[m.type](m);
        render();
      },
      onClose() { inFlight = null; delayMs = pingSentAt = null; render(); },
    });
  }
  // The delay shown is the socket's round trip, measured again every few seconds (one ping in flight at a time).
  function ping() { if (ws && ws.send({ type: "ping" })) pingSentAt = performance.now(); }
  setInterval(ping, PING_EVERY_MS);
  render();
  connect();
})();
