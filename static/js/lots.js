// The catalogue grid: a filter or sort change applies at once (the form is plain GET, so every view is a link);
// on the open view, prices, bid counts and time left stay current without a reload (the list API with the page's
// own parameters every few seconds; the countdown every 200 ms on the server's clock, urgent in the last minutes).
(() => {
  const { money, clock, left, api, esc } = window.Gavel;
  const grid = document.getElementById("lots");
  const finder = document.getElementById("finder");
  finder.addEventListener("change", (e) => {
    if (e.target.matches("select, input[type=checkbox]")) finder.requestSubmit();
  });
  if (grid.dataset.view !== "open") return;
  const URGENT_MS = Number(grid.dataset.urgentSeconds) * 1000;
  const bids = (n) => `${n} bid${n === 1 ? "" : "s"}`;

  // A card's cover: the lot's first photo's thumbnail, or a neutral placeholder (auctions/_lot_cover.html).
  const coverHtml = (src) => (src ? `<img src="${esc(src)}" alt="" loading="lazy" width="320" height="240">` : `<span class="placeholder"></span>`);
  // A card for a lot the page did not have (the same markup as the server's, auctions/lot_list.html).
  function card(lot) {
    const li = document.createElement("li");
    li.className = "lot-card";
    li.dataset.lot = lot.id;
    const href = `/lots/${Number(lot.id)}/`;
    li.innerHTML = `<article aria-labelledby="lot-${Number(lot.id)}-title">
      <a class="cover" href="${href}" tabindex="-1" aria-hidden="true">${coverHtml(lot.cover)}</a>
      <div class="card-body">
        <p class="lot-number">Lot ${Number(lot.number)} <span class="pill"></span></p>
        <h2 id="lot-${Number(lot.id)}-title"><a href="${href}">${esc(lot.title)}</a></h2>
        <p class="price"><span class="label"></span> <span class="money"></span></p>
        <p class="meta"><span class="bids"></span><span class="buy-now"> · Buy now <span class="buy-now-price"></span></span> · <span class="left">–</span></p>
      </div></article>`;
    return li;
  }
  function update(li, lot) {
    const cents = String(lot.high_bid === null ? lot.min_next_bid : lot.high_bid);
    const price = li.querySelector(".money");
    if (price.dataset.cents !== cents) {
      price.dataset.cents = cents; price.textContent = money(Number(cents));
      price.classList.remove("changed"); void price.offsetWidth; price.classList.add("changed");
    }
    li.querySelector(".price .label").textContent = lot.high_bid === null ? "Starting bid" : "Current bid";
    const pill = li.querySelector(".pill");
    pill.textContent = lot.status; pill.className = `pill ${lot.status}`;
    li.querySelector(".bids").textContent = bids(lot.bid_count);
    li.querySelector(".buy-now").hidden = lot.buy_now_price === null;
    li.querySelector(".buy-now-price").textContent = money(lot.buy_now_price);
    li.dataset.ends = lot.ends_at;
    li.dataset.starts = lot.starts_at;
    const cover = li.querySelector(".cover"), img = cover.querySelector("img");  // a photo added or removed since
    if ((img ? img.getAttribute("src") : null) !== (lot.cover || null)) cover.innerHTML = coverHtml(lot.cover);
  }
  async function refresh() {
    const started = performance.now();
    const { ok, data } = await api("GET", `/api/lots/${location.search}`);
    if (!ok) return;
    clock.observe(data.server_time, performance.now() - started);
    const seen = new Set();
    data.lots.forEach((lot, i) => {
      let li = grid.querySelector(`li[data-lot="${lot.id}"]`);
      if (!li) li = card(lot);
      if (grid.children[i] !== li) grid.insertBefore(li, grid.children[i] || null);
      update(li, lot);
      seen.add(String(lot.id));
    });
    for (const li of [...grid.children]) if (!seen.has(li.dataset.lot)) li.remove();
    grid.hidden = data.lots.length === 0;
    document.getElementById("empty").hidden = data.lots.length !== 0;
    document.getElementById("count").textContent = `${data.lots.length} lot${data.lots.length === 1 ? "" : "s"}`;
  }
  function tick() {
    const now = clock.now();
    for (const li of grid.children) {
      const starts = Date.parse(li.dataset.starts), ends = Date.parse(li.dataset.ends);
      const upcoming = starts > now;
      const ended = !upcoming && ends <= now;
      li.querySelector(".left").textContent = upcoming ? `starts in ${left(starts)}` : ended ? "ended" : `${left(ends)} left`;
      li.classList.toggle("urgent", !upcoming && !ended && ends - now <= URGENT_MS);
    }
  }
  tick();
  refresh();
  setInterval(refresh, 3000);
  setInterval(tick, 200);
})();
