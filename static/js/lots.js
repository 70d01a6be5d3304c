// The lots list: prices, bid counts and time left stay current without a reload (the list API every few seconds;
// the countdown every 200 ms on the server's clock).
(() => {
  const { money, clock, left, api, esc } = window.Gavel;
  const body = document.querySelector("#lots tbody");
  // Prices arrive formatted by the server (for the browser's Accept-Language); each keeps its cents to compare.
  function row(lot) {
    const tr = document.createElement("tr");
    tr.dataset.lot = lot.id;
    tr.innerHTML = `<td data-label="Lot"><a href="/lots/${lot.id}/">${esc(lot.title)}</a></td>
      <td data-label="Status"><span class="pill"></span></td><td data-label="Price" class="money"></td>
      <td data-label="Bids" class="num"></td><td data-label="Time left" class="num left">–</td>`;
    return tr;
  }
  function update(tr, lot) {
    const cents = String(lot.high_bid === null ? lot.min_next_bid : lot.high_bid);
    const cell = tr.querySelector(".money");
    if (cell.dataset.cents !== cents) {
      cell.dataset.cents = cents; cell.textContent = money(Number(cents));
      cell.classList.remove("changed"); void cell.offsetWidth; cell.classList.add("changed");
    }
    tr.querySelector(".pill").textContent = lot.status;
    tr.querySelector(".pill").className = `pill ${lot.status}`;
    tr.children[3].textContent = lot.bid_count;
    tr.dataset.ends = lot.ends_at;
    tr.dataset.starts = lot.starts_at;
  }
  async function refresh() {
    const started = performance.now();
    const { ok, data } = await api("GET", "/api/lots/");
    if (!ok) return;
    clock.observe(data.server_time, performance.now() - started);
    const seen = new Set();
    data.lots.forEach((lot, i) => {
      let tr = body.querySelector(`tr[data-lot="${lot.id}"]`);
      if (!tr) tr = row(lot);
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
      update(tr, lot);
      seen.add(String(lot.id));
    });
    for (const tr of [...body.children]) if (!seen.has(tr.dataset.lot)) tr.remove();
    document.getElementById("lots").hidden = data.lots.length === 0;
    document.getElementById("empty").hidden = data.lots.length !== 0;
  }
  function tick() {
    for (const tr of body.children) {
      const starts = Date.parse(tr.dataset.starts);
      tr.querySelector(".left").textContent = starts > clock.now() ? `starts in ${left(starts)}` : left(Date.parse(tr.dataset.ends));
    }
  }
  refresh();
  setInterval(refresh, 3000);
  setInterval(tick, 200);
})();
