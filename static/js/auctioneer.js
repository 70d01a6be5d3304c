// The auctioneer's view: read-only, large. One sale socket (ws/sales/<id>/) as a clerk's, so it hears the clerks'
// own messages too (`clerk_block`: who leads, by source and paddle, and the internet-winning light; `missed_bid`),
// but it never claims the console and sends nothing but `sync` and `ping`. Lot events are sequenced per lot; a gap
// is repaired with `sync`, a reconnect starts from the new snapshot.
(() => {
  const { money, liveSocket } = window.Gavel;
  const root = document.getElementById("auctioneer");
  const saleId = Number(root.dataset.saleId);
  const $ = (id) => document.getElementById(id);
  const catalogue = JSON.parse($("sale-lots").textContent);
  const STATE_TEXT = { waiting: "Waiting", open: "Open", fair_warning: "Fair warning", sold: "Sold", passed: "Passed" };
  const MISSED_SHOWN_MS = 15000;  // long enough to reopen; the clerk's console keeps its own until dismissed

  let ws = null, sale = null, block = null, clerk = null, online = null;
  const lots = new Map();
  const missed = [];  // {text, until}

  const lotName = (id) => { const c = catalogue[String(id)]; return c ? `Lot ${c.position}: ${c.title}` : `Lot #${id}`; };
  function who() {
    if (!block || block.amount === null || block.amount === undefined) return "";
    if (clerk && clerk.lot === block.lot && clerk.source) {
      const paddle = clerk.paddle ? ` · paddle ${clerk.paddle}` : "";
      return { floor: "Floor", absentee: "Absentee", internet: "Internet" }[clerk.source] + paddle;
    }
    return block.leader === "room" ? "Floor" : "Internet or absentee";
  }
  function render() {
    const connected = ws !== null && ws.open;
    $("conn").textContent = connected ? "live" : "reconnecting…";
    $("conn").className = connected ? "conn live" : "conn";
    $("online").textContent = typeof online === "number" ? String(online) : "–";
    const paused = sale && sale.status === "paused";
    $("pause-banner").hidden = !paused;
    $("pause-banner").textContent = paused ? `Paused${sale.pause_message ? `: ${sale.pause_message}` : "."}` : "";
    const lotId = sale ? sale.current_lot : null;
    const c = lotId ? catalogue[String(lotId)] : null;
    $("block-title").textContent = lotId ? lotName(lotId) : sale && sale.status === "finished" ? "The sale has finished" : "No lot on the block";
    const photo = $("block-photo");
    if (c && c.photo) { if (photo.getAttribute("src") !== c.photo) photo.src = c.photo; photo.alt = c.title; photo.hidden = false; }
    else photo.hidden = true;
    const state = block && block.lot === lotId ? block.live_state : null;
    $("live-state").textContent = state ? STATE_TEXT[state] || state : "–";
    $("live-state").className = `state-word ${state || ""}`;
    $("amount").textContent = block && block.amount !== null && block.amount !== undefined ? money(block.amount) : "No bid";
    $("leader").textContent = who();
    $("ask").textContent = block && typeof block.ask === "number" ? money(block.ask) : "–";
    $("internet-winning").hidden = !(clerk && clerk.lot === lotId && clerk.internet_winning && block && block.amount !== null);
    const waiting = clerk && clerk.lot === lotId ? clerk.waiting : null;
    $("waiting").hidden = !waiting;
    $("waiting").textContent = waiting ? `Internet bid of ${money(waiting.amount)} waiting (paddle ${waiting.paddle})` : "";
    const now = Date.now();
    while (missed.length && missed[0].until < now) missed.shift();
    $("missed").replaceChildren(...missed.map((row) => { const li = document.createElement("li"); li.textContent = row.text; return li; }));
    $("missed").hidden = missed.length === 0;
  }
  function requestSync(lotId, since) { if (ws) ws.send({ type: "sync", lot: lotId, since_seq: since }); }
  const handlers = {
    sale_snapshot(m) {
      sale = m.sale; block = m.block; clerk = m.clerk; online = m.online;
      for (const row of m.lots) lots.set(row.id, { seq: row.seq });
    },
    live(m) {
      const row = lots.get(m.lot);
      if (!row || m.seq <= row.seq) return;
      if (m.seq > row.seq + 1) { requestSync(m.lot, row.seq); return; }
      row.seq = m.seq;
      if (m.sale_status) sale.status = m.sale_status;
      if (m.event === "paused") sale.pause_message = m.message || "";
      if (m.event === "resumed") sale.pause_message = "";
      if (m.event === "on_block") { sale.current_lot = m.lot; clerk = null; missed.length = 0; }
      if (m.lot !== sale.current_lot || m.event === "moved_on") return;
      block = m;
    },
    clerk_block(m) { if (sale && m.lot === sale.current_lot) clerk = m; },
    missed_bid(m) {
      const text = m.before_hammer
        ? `Missed bid: ${money(m.amount)} from paddle ${m.paddle}, sent just before the hammer.`
        : `Missed bid: ${money(m.amount)} from paddle ${m.paddle}, ${m.late_ms} ms late.`;
      missed.push({ text, until: Date.now() + MISSED_SHOWN_MS });
      setTimeout(render, MISSED_SHOWN_MS + 50);
    },
    pong(m) { if (typeof m.online === "number") online = m.online; },
  };
  function connect() {
    ws = liveSocket(`/ws/sales/${saleId}/`, {
      stopOn: [4404, 4401],
      onOpen() { render(); },
      onMessage(m) {
        if (typeof m.sale === "number" && m.sale !== saleId) return;  // a notice about another sale of ours
        if (m.type === "missed_bid" && !lots.has(m.lot)) return;
        if (handlers[m.type]) handlers[m.type](m);
        render();
      },
      onClose() { render(); },
    });
  }
  setInterval(() => { if (ws) ws.send({ type: "ping" }); }, 5000);  // for the online count; it never drives
  render();
  connect();
})();
