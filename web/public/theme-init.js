// Applies the saved theme before first paint (an external file: the CSP forbids inline scripts).
(function () {
  try {
    var t = localStorage.getItem('kanade.theme') || 'system';
    var dark = t === 'dark' || (t === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  } catch (e) {}
})();
