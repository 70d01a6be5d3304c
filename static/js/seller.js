// The seller dashboard: every one of my lots live over ws/seller/ (bids, extensions, closes, watchers), and the
// forms to list, schedule, edit (before the first bid) and cancel lots through the JSON API.
(() => {
  const { money, readAmount, amountInput, clock, left, api, liveSocket, esc } = window.Gavel;
  const $ = (id) => document.getElementById(id);
  const body = document.querySelector("#seller-lots tbody");
  const lots = new Map();  // id -> row data
  let ws = null;

  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  function bidsText(lot) {  // "no bids", "1 bid · 1 bidder", "5 bids · 2 bidders"
    if (!lot.bid_count) return "no bids";
    return `${count(lot.bid_count, "bid", "bids")} · ${count(lot.bidder_count || 0, "bidder", "bidders")}`;
  }
  function reserveText(lot) {
    if (lot.reserve_price === null || lot.reserve_price === undefined) return "none";
    return `${money(lot.reserve_price)} · ${lot.reserve_met ? "met" : "not met"}`;
  }
  function render(lot, changed = false) {
    let tr = body.querySelector(`tr[data-lot="${lot.id}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.lot = lot.id;
      tr.innerHTML = `<td data-label="Lot"></td><td data-label="Status"></td><td data-label="High bid" class="money"></td>
        <td data-label="Bids" class="num bids"></td><td data-label="Watching now" class="num watchers"></td><td data-label="Reserve"></td>
        <td data-label="Time left" class="num left"></td><td class="actions"></td>`;
      body.append(tr);
    }
    tr.children[0].innerHTML = `<a href="/lots/${lot.id}/">${esc(lot.title)}</a>`;
    tr.children[1].innerHTML = `<span class="pill ${esc(lot.status)}">${esc(lot.status)}</span>`;
    tr.children[2].textContent = lot.high_bid === null ? "–" : money(lot.high_bid);
    tr.children[3].textContent = bidsText(lot);
    tr.children[4].textContent = lot.watchers ?? 0;
    tr.children[5].textContent = reserveText(lot);
    const actions = tr.children[7];
    actions.replaceChildren();
    if ((lot.status === "open" || lot.status === "scheduled") && lot.bid_count === 0) {
      const edit = document.createElement("button"); edit.className = "secondary"; edit.textContent = "Edit";
      edit.addEventListener("click", () => startEdit(lot));
      const cancel = document.createElement("button"); cancel.className = "danger"; cancel.textContent = "Cancel";
      cancel.addEventListener("click", () => cancelLot(lot));
      actions.append(edit, " ", cancel);
    }
    if (changed) { tr.classList.remove("changed"); void tr.offsetWidth; tr.classList.add("changed"); }
    $("no-lots").hidden = lots.size > 0;
  }
  function put(lot, changed) { lots.set(lot.id, { ...(lots.get(lot.id) || {}), ...lot }); render(lots.get(lot.id), changed); }
  const handlers = {
    seller_snapshot(m) {
      clock.observe(m.server_time);
      body.replaceChildren(); lots.clear();
      for (const lot of m.lots) put(lot, false);
      $("no-lots").hidden = m.lots.length > 0;
    },
    seller_lot(m) { const lot = { ...m.lot }; if (lot.watchers === null) delete lot.watchers; put(lot, true); },
    high_bid(m) {
      const lot = lots.get(m.lot); if (!lot) return;
      if (typeof lot.seq === "number" && m.seq <= lot.seq) return;  // already applied (a relayed duplicate)
      clock.observe(m.server_time);
      put({ id: m.lot, high_bid: m.amount, bid_count: m.bid_count, ends_at: m.ends_at, reserve_met: m.reserve_met,
            status: "open", seq: m.seq, bidder_count: m.bidder_count ?? lot.bidder_count }, true);
      if (m.extended) { const cell = body.querySelector(`tr[data-lot="${m.lot}"] .left`); if (cell) cell.dataset.extended = Date.now(); }
    },
    closed(m) { if (lots.has(m.lot)) put({ id: m.lot, status: "closed", high_bid: m.high_bid, reserve_met: m.reserve_met, winner_found: !!m.winner, sold_for: m.amount }, true); },
    cancelled(m) { if (lots.has(m.lot)) put({ id: m.lot, status: "cancelled" }, true); },
    opened(m) { if (lots.has(m.lot)) put({ id: m.lot, status: "open", seq: m.seq, min_next_bid: m.min_next_bid, buy_now_price: m.buy_now_price }, true); },
    extended(m) {  // staff moved the end (a lot event, and a notice to you: the same payload, applied twice)
      if (!lots.has(m.lot)) return;
      if (typeof lots.get(m.lot).seq === "number" && m.seq < lots.get(m.lot).seq) return;  // an older one, relayed again
      put({ id: m.lot, ends_at: m.ends_at, seq: Math.max(m.seq, lots.get(m.lot).seq || 0) }, true);
      const cell = body.querySelector(`tr[data-lot="${m.lot}"] .left`); if (cell) cell.dataset.extended = Date.now();
    },
    watchers(m) { for (const [id, count] of Object.entries(m.lots)) if (lots.has(Number(id))) put({ id: Number(id), watchers: count }, false); },
    resync() { ws.send({ type: "refresh" }); },
  };
  function connect() {  // each (re)connect begins with a fresh snapshot: that is the resync
    ws = liveSocket("/ws/seller/", {
      stopOn: [4401],
      onOpen() { $("conn").textContent = "live"; $("conn").className = "conn live"; },
      onMessage(m) { if (handlers[m.type]) handlers[m.type](m); },
      onClose(e) {
        $("conn").textContent = "reconnecting…"; $("conn").className = "conn";
        if (e.code === 4401) location.href = "/accounts/login/?next=/sell/";
      },
    });
  }
  function tick() {
    for (const [id, lot] of lots) {
      const cell = body.querySelector(`tr[data-lot="${id}"] .left`);
      if (!cell) continue;
      if (lot.status === "closed") cell.textContent = lot.winner_found === false ? "ended, no sale" : `sold${lot.sold_for ? ` for ${money(lot.sold_for)}` : ""}`;
      else if (lot.status === "cancelled") cell.textContent = "withdrawn";
      else if (Date.parse(lot.starts_at) > clock.now()) cell.textContent = `starts in ${left(Date.parse(lot.starts_at))}`;
      else cell.textContent = left(Date.parse(lot.ends_at)) + (cell.dataset.extended && Date.now() - cell.dataset.extended < 5000 ? " (extended)" : "");
    }
  }

  // --- the form: list, schedule, edit ----------------------------------------------------------------------------
  function formFeedback(text, bad = false) { $("form-feedback").textContent = text; $("form-feedback").className = "feedback" + (bad ? " bad" : ""); }
  const localInput = (iso) => { if (!iso) return ""; const d = new Date(iso); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); };
  // An amount field as cents (null when an optional one is empty), or a sentence naming the field and its problem.
  const amount = (id, label, required) => {
    const raw = $(id).value.trim();
    if (!raw && !required) return { cents: null };
    const read = readAmount(raw);
    return read.problem ? { problem: `${label}: ${read.problem}` } : read;
  };
  const plain = (cents) => (cents ? amountInput(cents) : "");
  $("f-starting").placeholder = amountInput(1_000);
  function startEdit(lot) {
    $("edit-id").value = lot.id; $("form-title").textContent = `Edit “${lot.title}”`; $("save").textContent = "Save changes";
    $("cancel-edit").hidden = false; $("photos-label").textContent = "Add photos";
    $("f-title").value = lot.title; $("f-starting").value = plain(lot.min_next_bid);
    $("f-reserve").value = plain(lot.reserve_price); $("f-buy-now").value = plain(lot.buy_now_price);
    $("f-starts").value = localInput(lot.starts_at); $("f-ends").value = localInput(lot.ends_at);
    api("GET", `/api/lots/${lot.id}/`).then(({ ok, data }) => {
      if (!ok) return;
      $("f-description").value = data.lot.description;
      const d = data.lot.details;
      $("f-condition").value = d.condition || ""; $("f-condition-note").value = d.condition_note;
      $("f-shipping").value = d.shipping_price === null ? "" : (d.shipping_price === 0 ? "0" : amountInput(d.shipping_price));
      $("f-ships-to").value = d.ships_to; $("f-premium").value = d.buyers_premium_percent === "0.0" ? "" : d.buyers_premium_percent;
      $("f-collection").value = d.collection_instructions || ""; $("f-payment").value = d.payment_instructions || "";
    });
    $("lot-form").scrollIntoView({ behavior: "smooth" });
  }
  function stopEdit() {
    $("lot-form").reset(); $("edit-id").value = ""; $("form-title").textContent = "List a lot"; $("save").textContent = "List lot";
    $("cancel-edit").hidden = true; $("photos-label").textContent = "Photos";
  }
  // The chosen photos (none: null), or a sentence saying why they cannot be sent; the server checks them again.
  function chosenPhotos() {
    const input = $("f-photos"), files = [...input.files], maxMb = Number(input.dataset.maxMb);
    if (!files.length) return { files: null };
    if (files.length > Number(input.dataset.max)) return { problem: `Choose at most ${input.dataset.max} photos.` };
    const big = files.find((file) => file.size > maxMb * 1024 * 1024);
    return big ? { problem: `${big.name} is larger than ${maxMb} MB.` } : { files };
  }
  $("cancel-edit").addEventListener("click", stopEdit);
  async function cancelLot(lot) {
    const reason = prompt(`Why are you withdrawing “${lot.title}”? Bidders and watchers will see this.`);
    if (!reason) return;
    const { ok, data } = await api("POST", `/api/lots/${lot.id}/cancel/`, { reason });
    formFeedback(ok ? `“${lot.title}” was withdrawn.` : ((data && data.message) || "Could not cancel."), !ok);
  }
  $("lot-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const prices = [amount("f-starting", "Starting price", true), amount("f-reserve", "Reserve", false), amount("f-buy-now", "Buy now", false)];
    // Shipping: empty is collection only (null), a zero is free shipping; the premium goes as typed, a decimal
    // string the server reads exactly ("12,5" as "12.5").
    const free = /^0*([.,]0*)?$/.test($("f-shipping").value.trim()) && $("f-shipping").value.trim() !== "";
    const shipping = free ? { cents: 0 } : amount("f-shipping", "Shipping price", false);
    const problem = [...prices, shipping].find((read) => read.problem);
    if (problem) { formFeedback(problem.problem, true); return; }
    const body = {
      title: $("f-title").value.trim(), description: $("f-description").value,
      starting_price: prices[0].cents, reserve_price: prices[1].cents, buy_now_price: prices[2].cents,
      condition: $("f-condition").value, condition_note: $("f-condition-note").value.trim(),
      shipping_price: shipping.cents, ships_to: $("f-ships-to").value.trim(),
      buyers_premium_percent: $("f-premium").value.trim().replace(",", ".") || "0",
      collection_instructions: $("f-collection").value, payment_instructions: $("f-payment").value,
      starts_at: $("f-starts").value ? new Date($("f-starts").value).toISOString() : undefined,  // empty: now
      ends_at: $("f-ends").value ? new Date($("f-ends").value).toISOString() : undefined,
    };
    if (!body.ends_at) { formFeedback("Choose when the lot ends.", true); return; }
    const photos = chosenPhotos();
    if (photos.problem) { formFeedback(photos.problem, true); return; }
    let payload = body;
    if (photos.files) {  // multipart: the lot's fields as JSON in `lot`, each photo a part `photos`
      payload = new FormData();
      payload.append("lot", JSON.stringify(body));
      for (const file of photos.files) payload.append("photos", file);
      formFeedback(`Uploading ${photos.files.length === 1 ? "1 photo" : `${photos.files.length} photos`}…`);
    }
    const id = $("edit-id").value;
    const { ok, data } = await api(id ? "PATCH" : "POST", id ? `/api/lots/${id}/` : "/api/lots/", payload);
    if (ok) { formFeedback(id ? "Saved." : `Listed “${body.title}”.`); stopEdit(); return; }
    formFeedback((data && data.message) || "Could not save the lot.", true);
  });
  connect();
  setInterval(tick, 250);
})();
