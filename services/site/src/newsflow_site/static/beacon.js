// The page's only script: tell the read API this article was viewed (POST /v1/views).
(function () {
  var me = document.currentScript;
  if (!me || !navigator.sendBeacon) return;
  var view = { article_id: me.dataset.article, site: me.dataset.site };
  if (window.crypto && crypto.randomUUID) view.view_id = crypto.randomUUID();
  navigator.sendBeacon(me.dataset.beacon, JSON.stringify(view));
})();
