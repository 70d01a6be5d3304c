// The room display, for a projector in the saleroom: read-only, public. One sale socket (ws/sales/<id>/) as any
// watcher's: the lot on the block, its price and state in large type. The public event names the leader only as
// "room" or "bidder" (never a paddle or an alias), so the display says "in the room" or "online or absentee".
(() => {
  const { money, liveSocket } = window.Gavel;
  const root = document.getElementById("room");
  const saleId = Number(root.dataset.saleId);
  const $ = (id) => document.getElementById(id);
  const catalogue = JSON.parse($("sale-lots").textContent);
  const STATE_TEXT = { waiting: "Coming up", open: "Open", fair_warning: "Fair warning", sold: "Sold", passed: "Passed" };

  let ws = null, sale = null, block = null;
  const lots = new Map();

  function render() {
    const connected = ws !== null && ws.open;
    $("conn").textContent = connected ? "live" : "reconnecting…";
    $("conn").className = connected ? "conn live" : "conn";
    const lotId = sale ? sale.current_lot : null;
    const c = lotId ? catalogue[String(lotId)] : null;
    $("lot-number").textContent = c ? `Lot ${c.position}` : "";
    $("lot-title").textContent = c ? c.title : sale && sale.status === "finished" ? "The sale has finished" : sale && sale.status === "scheduled" ? "The sale begins shortly" : "Next lot shortly";
    const photo = $("lot-photo");
    if (c && c.photo) { if (photo.getAttribute("src") !== c.photo) photo.src = c.photo; photo.alt = c.title; photo.hidden = false; }
    else photo.hidden = true;
    const state = block && block.lot === lotId ? block.live_state : null;
    const paused = sale && sale.status === "paused";
    $("state").textContent = paused ? "Paused" : state ? STATE_TEXT[state] || state : "";
    $("state").className = `state-word ${paused ? "paused" : state || ""}`;
    const amount = block && block.lot === lotId ? block.amount : null;
    $("price").textContent = amount === null || amount === undefined ? (c ? `Starting at ${money(c.starting_price)}` : "") : money(amount);
    let leader = "";
    if (amount !== null && amount !== undefined && state !== "passed") {
      leader = block.leader === "room" ? "In the room" : "Online or absentee";
      if (state === "sold") leader = block.leader === "room" ? "Sold in the room" : "Sold online or absentee";
    }
    $("leader").textContent = leader;
    $("pause-message").textContent = paused && sale.pause_message ? sale.pause_message : "";
  }
  function requestSync(lotId, since) { if (ws) ws.send({ type: "sync", lot: lotId, since_seq: since }); }
  const handlers = {
    sale_snapshot(m) { sale = m.sale; block = m.block; for (const row of m.lots) lots.set(row.id, { seq: row.seq }); },
    live(m) {
      const row = lots.get(m.lot);
      if (!row || m.seq <= row.seq) return;
      if (m.seq > row.seq + 1) { requestSync(m.lot, row.seq); return; }
      row.seq = m.seq;
      if (m.sale_status) sale.status = m.sale_status;
      if (m.event === "paused") sale.pause_message = m.message || "";
      if (m.event === "resumed") sale.pause_message = "";
      if (m.event === "on_block") sale.current_lot = m.lot;
      if (m.lot !== sale.current_lot || m.event === "moved_on") return;
      block = m;
    },
  };
  function connect() {
    ws = liveSocket(`/ws/sales/${saleId}/`, {
      stopOn: [4404],
      onOpen() { render(); },
      onMessage(m) { if (handlers[m.type]) handlers[m.type](m); render(); },
      onClose() { render(); },
    });
  }
  setInterval(() => { if (ws) ws.send({ type: "ping" }); }, 15000);
  render();
  connect();
})();
