// The lot page's photo gallery: a thumbnail shows its photo as the main image (click, Enter or Space); the arrow
// keys, Home and End move between thumbnails and show each one.
(() => {
  const main = document.getElementById("gallery-main");
  const thumbs = [...document.querySelectorAll("#gallery .thumb")];
  if (!main || thumbs.length < 2) return;
  function show(thumb) {
    main.src = thumb.dataset.src; main.alt = thumb.dataset.alt;
    main.width = thumb.dataset.width; main.height = thumb.dataset.height;
    for (const other of thumbs) other.setAttribute("aria-pressed", String(other === thumb));
  }
  thumbs.forEach((thumb, i) => {
    thumb.addEventListener("click", () => show(thumb));
    thumb.addEventListener("keydown", (e) => {
      const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: thumbs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const next = thumbs[(to + thumbs.length) % thumbs.length];
      next.focus(); show(next);
    });
  });
})();
