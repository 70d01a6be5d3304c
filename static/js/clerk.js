// The clerk's console: one sale socket (ws/sales/<id>/); every action is a `clerk` message the server checks and
// answers (clerk_done / clerk_refused). Only the driving console acts, and it pings as its heartbeat: a console that
// falls silent pauses the sale. Lot events are sequenced per lot; a gap is repaired with `sync`, a reconnect starts
// from the new snapshot (and claims the console back if this page drove before the drop).
(() => {
  const { money, readAmount, api, liveSocket } = window.Gavel;
  const root = document.getElementById("console");
  const saleId = Number(root.dataset.saleId);
  const me = root.dataset.me;
  const HEARTBEAT_MS = Number(root.dataset.heartbeatMs) || 1000;
  const IDLE_PING_MS = 5000;  // a console that does not drive pings only for the online count
  const $ = (id) => document.getElementById(id);
  const catalogue = JSON.parse($("sale-lots").textContent);  // lot id → title, position, prices, photo

  const BIDDING = ["open", "fair_warning"];
  const STATE_TEXT = { waiting: "waiting", open: "open", fair_warning: "fair warning", sold: "sold", passed: "passed" };
  // What a refusal's code means to a clerk; the server's own sentence follows it.
  const CODE_TEXT = {
    forbidden: "Not allowed", not_open: "Not open", invalid: "Not possible", too_low: "Too low",
    not_authenticated: "Signed out", rate_limited: "Too fast", closed: "Closed",
  };
  const REASON_TEXT = {
    not_driving: "Another console drives this sale: take over to act from this one.",
    not_clerk: "Only the sale's clerks drive it.",
    moved_on: "The block has moved on: only staff may reopen that lot now.",
    paused: "The sale is paused: resume it first.",
    not_running: "The sale has not started.",
    no_lot: "There is no lot on the block.",
    sale_finished: "The sale has finished: nothing more can be bid or clerked.",
  };

  let ws = null, sale = null, lots = new Map(), block = null, clerk = null;
  let driving = null, iDrive = false, droveBefore = false, online = null, inFlight = null;

  const lotName = (id) => { const c = catalogue[String(id)]; return c ? `Lot ${c.position}: ${c.title}` : `Lot #${id}`; };
  function say(text) { const el = $("announce"); el.textContent = el.textContent === text ? `${text}\u00a0` : text; }
  function refusal(text) { $("refusal").textContent = text; if (text) say(text); }

  function who(row) {  // a bid's bidder as the clerk calls it: floor, absentee or internet, with the paddle
    const paddle = row.paddle ? ` paddle ${row.paddle}` : "";
    if (row.source === "floor") return `Floor${paddle}`;
    if (row.source === "absentee") return `Absentee${paddle}`;
    return `Internet ${row.bidder || "bidder"}${paddle ? ` (${paddle.trim()})` : ""}`;
  }

  function render() {
    const connected = ws !== null && ws.open;
    $("conn").textContent = connected ? "live" : "reconnecting…";
    $("conn").className = connected ? "conn live" : "conn";
    const status = sale ? sale.status : "";
    $("sale-status").textContent = status === "paused" ? `paused${sale.pause_message ? `: ${sale.pause_message}` : ""}` : status || "connecting…";
    $("sale-status").className = `pill ${status}`;
    $("online").textContent = online === null || online === undefined ? "–" : String(online);
    $("driver-text").textContent = iDrive ? "You drive this sale from this console."
      : driving ? `${driving} drives this sale from another console.` : "Nobody drives this sale.";
    $("claim").hidden = iDrive;
    $("claim").textContent = driving ? "Take over" : "Drive this sale";
    renderBlock();
    renderButtons(connected);
    renderLots();
  }

  function renderBlock() {
    const lotId = sale && sale.current_lot;
    const c = lotId ? catalogue[String(lotId)] : null;
    $("block-title").textContent = lotId ? lotName(lotId) : "No lot on the block";
    const photo = $("block-photo");
    if (c && c.photo) { if (photo.getAttribute("src") !== c.photo) photo.src = c.photo; photo.alt = c.title; photo.hidden = false; }
    else photo.hidden = true;
    const state = block ? block.live_state : (lotId && lots.get(lotId) ? lots.get(lotId).live_state : null);
    $("live-state").textContent = state ? STATE_TEXT[state] || state : "–";
    $("live-state").className = `pill ${state || ""}`;
    const amount = block ? block.amount : null;
    $("amount").textContent = amount === null || amount === undefined ? "no bid" : money(amount);
    let leader = "";
    if (amount !== null && amount !== undefined) {
      if (clerk && clerk.lot === lotId && clerk.source) leader = who({ source: clerk.source, paddle: clerk.paddle, bidder: block.bidder });
      else leader = block.leader === "room" ? "Floor" : block.bidder || "";
    }
    $("leader").textContent = leader;
    $("internet-winning").hidden = !(clerk && clerk.lot === lotId && clerk.internet_winning && amount !== null);
    $("ask").textContent = block && block.ask !== null && block.ask !== undefined ? money(block.ask) : "–";
    $("increment").textContent = block && block.increment ? money(block.increment) : "site table";
    $("starting").textContent = c ? money(c.starting_price) : "–";
    $("reserve").textContent = !c || !block ? "–" : c.has_reserve ? (block.reserve_met ? "met" : "not met") : "none";
    $("bid-count").textContent = block ? String(block.bid_count) : "0";
    const waiting = clerk && clerk.lot === lotId ? clerk.waiting : null;
    $("waiting").hidden = !waiting;
    $("waiting").textContent = waiting ? `Internet bid of ${money(waiting.amount)} waiting (paddle ${waiting.paddle}): Accept to take it.` : "";
  }

  function allowed(action) {  // what makes sense now; the server decides anyway
    if (!(ws !== null && ws.open && iDrive && sale)) return false;
    const state = block && sale.current_lot === block.lot ? block.live_state : null;
    const running = sale.status === "running";
    if (sale.status === "finished") return false;
    switch (action) {
      case "start": return sale.status === "scheduled";
      case "offer": return running && state === "waiting";
      case "floor_bid": case "fair_warning": case "sold": case "pass": case "undo":
        return running && BIDDING.includes(state);
      case "accept": return running && BIDDING.includes(state) && !!(clerk && clerk.waiting);
      case "reopen": return state === "sold" || state === "passed";
      case "next": return state === "sold" || state === "passed";
      case "pause": return (running || sale.status === "paused") && !!sale.current_lot;
      case "finish": return (running || sale.status === "paused") && !BIDDING.includes(state);
      default: return true;
    }
  }
  function renderButtons() {
    for (const b of document.querySelectorAll("button[data-action]")) b.disabled = !allowed(b.dataset.action);
    const paused = sale && sale.status === "paused";
    $("pause").firstChild.textContent = paused ? "Resume " : "Pause ";
    for (const b of document.querySelectorAll("#console form button, .quick-messages button")) b.disabled = !(ws !== null && ws.open && iDrive);
  }

  function renderLots() {
    const list = $("lots");
    const rows = [...lots.values()].sort((a, b) => a.position - b.position);
    list.replaceChildren(...rows.map((row) => {
      const li = document.createElement("li");
      const current = sale && sale.current_lot === row.id;
      li.className = current ? "current" : "";
      const name = document.createElement("span");
      name.textContent = lotName(row.id);
      const state = document.createElement("span");
      state.className = `pill ${row.live_state}`;
      state.textContent = current ? `on the block · ${STATE_TEXT[row.live_state] || row.live_state}` : STATE_TEXT[row.live_state] || row.live_state;
      li.append(name, " ", state);
      if (!current && (row.live_state === "waiting" || row.live_state === "passed") && sale && sale.status !== "scheduled") {
        const b = document.createElement("button");
        b.type = "button"; b.className = "secondary";
        b.textContent = row.live_state === "passed" ? "Re-offer" : "Put on the block";
        b.setAttribute("aria-label", `${b.textContent}: ${lotName(row.id)}`);
        b.disabled = !(ws !== null && ws.open && iDrive);
        b.addEventListener("click", () => act("jump", { lot_id: row.id }));
        li.append(" ", b);
      }
      return li;
    }));
  }

  async function loadHistory() {
    const lotId = sale && sale.current_lot;
    if (!lotId) { $("history").replaceChildren(); return; }
    const { ok, data } = await api("GET", `/sales/${saleId}/clerk/lots/${lotId}/bids/`);
    if (!ok || !sale || sale.current_lot !== data.lot) return;  // the block moved meanwhile: its own load follows
    $("history").replaceChildren(...data.bids.map((row) => {
      const li = document.createElement("li");
      if (row.withdrawn) li.className = "withdrawn";
      const price = document.createElement("strong");
      price.textContent = money(row.amount);
      const by = document.createElement("span");
      by.className = "who";
      by.textContent = who(row);
      const at = document.createElement("time");
      at.dateTime = row.at;
      at.textContent = new Date(row.at).toLocaleTimeString();
      li.append(price, " ", by, " ", at);
      if (row.withdrawn) { const tag = document.createElement("span"); tag.className = "tag"; tag.textContent = "withdrawn"; li.append(" ", tag); }
      return li;
    }));
  }

  // --- sending ---------------------------------------------------------------------------------------------------
  function act(action, fields = {}) {
    if (action !== "claim" && !allowed(action) && !["jump", "increment", "ask", "message"].includes(action)) {
      refusal(iDrive ? `Not now: ${action.replace("_", " ")} does not apply to the lot as it stands.` : REASON_TEXT.not_driving);
      return;
    }
    if (inFlight !== null) { refusal("Wait: the last action is still being answered."); return; }
    if (!ws || !ws.send({ type: "clerk", action, ...fields })) { refusal("Not sent: the connection is down. Reconnecting…"); return; }
    inFlight = action;
    $("last-action").textContent = "Sending…";
  }
  function floorBid() {
    const raw = $("paddle").value.trim();
    const fields = { amount: block ? block.ask : undefined };
    if (raw) {
      if (!/^\d{1,9}$/.test(raw)) { refusal("A paddle is a whole number."); return; }
      fields.paddle = Number(raw);
    }
    act("floor_bid", fields);
    $("paddle").value = "";
  }
  function togglePause() {
    if (sale && sale.status === "paused") act("resume");
    else act("pause", { message: $("pause-message").value.trim() });
  }
  const ACTIONS = {
    floor_bid: floorBid, pause: togglePause,
    // Finishing cannot be undone: asked once more, the one action that is.
    finish: () => { if (window.confirm("Finish the sale? No more lots can be offered or bid on.")) act("finish"); },
  };
  for (const b of document.querySelectorAll("button[data-action]")) {
    b.addEventListener("click", () => (ACTIONS[b.dataset.action] || (() => act(b.dataset.action)))());
  }
  $("claim").addEventListener("click", () => act("claim"));
  $("missed-dismiss").addEventListener("click", () => { $("missed").hidden = true; });
  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const raw = $("increment-input").value.trim();
    if (!raw) { act("increment", { increment: null }); return; }
    const read = readAmount(raw);
    if (read.problem) { refusal(`Increment: ${read.problem}`); return; }
    act("increment", { increment: read.cents });
  });
  $("typed-ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const read = readAmount($("ask-input").value);
    if (read.problem) { refusal(`Ask: ${read.problem}`); return; }
    act("ask", { ask: read.cents });
  });
  $("message-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("message-input").value.trim();
    if (text) act("message", { text });
  });
  for (const b of document.querySelectorAll("[data-message]")) b.addEventListener("click", () => act("message", { text: b.dataset.message }));

  // One key per action, never while typing in a field (a paddle, a message, an amount).
  const KEYS = { f: "floor_bid", a: "accept", w: "fair_warning", s: "sold", p: "pass", r: "reopen", n: "next", u: "undo", o: "offer", b: "start", e: "finish", " ": "pause" };
  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const action = KEYS[e.key.toLowerCase()];
    if (!action) return;
    e.preventDefault();  // Space must not also press the focused button
    if (e.repeat) return;
    const button = document.querySelector(`button[data-action="${action}"]`);
    if (button && button.disabled) { refusal(`${button.firstChild.textContent.trim()} is not available now.`); return; }
    (ACTIONS[action] || (() => act(action)))();
  });
  document.addEventListener("keyup", (e) => { if (e.key === " " && !typing(e.target)) e.preventDefault(); });

  // --- receiving -------------------------------------------------------------------------------------------------
  function describeRefusal(m) {
    const meaning = CODE_TEXT[m.code] || m.code;
    const reason = m.reason && REASON_TEXT[m.reason];
    let text = `${meaning}: ${reason || m.message || ""}`;
    if (m.code === "too_low" && typeof m.ask === "number") text += ` The ask is now ${money(m.ask)}.`;
    return text;
  }
  function requestSync(lotId, since) { if (ws) ws.send({ type: "sync", lot: lotId, since_seq: since }); }
  const handlers = {
    sale_snapshot(m) {
      sale = m.sale;
      $("report-link").hidden = sale.status !== "finished";
      lots = new Map(m.lots.map((row) => [row.id, { ...row }]));
      block = m.block;
      clerk = m.clerk;
      driving = m.driving;
      online = m.online;
      iDrive = false;  // a new socket: it drives only once it claims
      if (droveBefore) act("claim");  // this page drove before the connection dropped: take the console back
      loadHistory();
    },
    live(m) {
      const row = lots.get(m.lot);
      if (!row) return;
      if (m.seq <= row.seq) return;  // seen already (a replay overlapping)
      if (m.seq > row.seq + 1) { requestSync(m.lot, row.seq); return; }  // a gap: the replay brings this one too
      row.seq = m.seq;
      row.live_state = m.live_state || row.live_state;
      if (m.sale_status) sale.status = m.sale_status;
      if (m.event === "finished") $("report-link").hidden = false;
      if (m.event === "paused") sale.pause_message = m.message || "";
      if (m.event === "resumed") { sale.pause_message = ""; $("pause-message").value = ""; }
      if (m.event === "on_block") {
        sale.current_lot = m.lot;
        clerk = null;
        $("missed").hidden = true;
        // The increment and a typed ask belong to the lot: the fields start empty for the next one.
        $("increment-input").value = ""; $("ask-input").value = "";
      }
      if (m.lot !== sale.current_lot) return;
      block = m;
      if (["bid", "undone", "on_block", "offered", "reopened"].includes(m.event)) loadHistory();
      if (m.event === "message") $("last-action").textContent = `Sent to bidders: ${m.message}`;
    },
    clerk_block(m) { if (sale && m.lot === sale.current_lot) clerk = m; },
    missed_bid(m) {
      $("missed-text").textContent = m.before_hammer
        ? `Missed bid: ${money(m.amount)} from paddle ${m.paddle}, sent just before the hammer but reached the lot after it.`
        : `Missed bid: ${money(m.amount)} from paddle ${m.paddle}, ${m.late_ms} ms after the hammer.`;
      $("missed").hidden = false;
    },
    console(m) {
      driving = m.driver;
      // The notice reaches every socket of ours: our heartbeat's answer says whether this one still drives.
      if (iDrive && inFlight !== "claim") ping();
    },
    clerk_done(m) {
      if (m.action === "claim") { iDrive = droveBefore = true; driving = me; }
      inFlight = null;
      refusal("");
      $("last-action").textContent = `Done: ${(m.action || "").replace("_", " ")}${typeof m.amount === "number" ? ` · standing bid ${money(m.amount)}` : ""}.`;
    },
    clerk_refused(m) {
      inFlight = null;
      if (m.reason === "not_driving") iDrive = droveBefore = false;
      $("last-action").textContent = "";
      refusal(describeRefusal(m));
    },
    error(m) {
      inFlight = null;
      refusal(describeRefusal(m));
    },
    pong(m) {
      if (typeof m.online === "number") online = m.online;
      if (m.driving === false && iDrive) {
        iDrive = droveBefore = false;
        refusal("Another console took over: this one no longer drives.");
      }
    },
  };
  function ping() { if (ws) ws.send({ type: "ping" }); }
  function connect() {
    ws = liveSocket(`/ws/sales/${saleId}/`, {
      stopOn: [4404, 4401],
      onOpen() { inFlight = null; render(); },
      onMessage(m) {
        // A clerk's notice about another sale (it arrives on every socket of ours) is not this console's.
        if (typeof m.sale === "number" && m.sale !== saleId) return;
        if (m.type === "missed_bid" && !lots.has(m.lot)) return;
        if (handlers[m.type]) handlers[m.type](m);
        render();
      },
      onClose() { iDrive = false; inFlight = null; render(); },
    });
  }
  // The driving console's heartbeat: the server pauses the sale when it stops.
  let lastPing = 0;
  setInterval(() => {
    const now = Date.now();
    if (now - lastPing >= (iDrive ? HEARTBEAT_MS : IDLE_PING_MS)) { lastPing = now; ping(); }
  }, 250);
  render();
  connect();
})();
