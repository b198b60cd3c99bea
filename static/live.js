// Live project events over WebSocket (DESIGN §7), on the claims component's socket rules
// (claims/socket.js: renew over HTTP on 4401 and reconnect, at most 3 times a minute).
(function () {
  "use strict";
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  var retry = document.getElementById("live-retry");
  if (!list || list.dataset.live !== "on") { if (status) status.textContent = ""; return; }

  function show(text, state) {
    status.textContent = text;
    status.className = "live-status" + (state ? " " + state : "");
  }

  function newestId() {
    var first = list.querySelector("[data-event-id]");
    return first ? parseInt(first.dataset.eventId, 10) : 0;
  }

  function render(event) {
    if (list.querySelector('[data-event-id="' + event.id + '"]')) return;
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.className = "event fresh";
    item.dataset.eventId = event.id;
    var author = document.createElement("span");
    author.className = "author";
    author.textContent = event.author.name;
    var time = document.createElement("time");
    time.dateTime = event.created_at;
    time.textContent = event.created_at.slice(0, 16).replace("T", " ");
    var body = document.createElement("p");
    body.textContent = event.body;
    item.append(author, time, body);
    list.prepend(item);
  }

  // Events appended while the socket was closed are fetched once it is back.
  function backfill() {
    var after = newestId();
    return fetch(list.dataset.eventsApi + "?limit=50", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { events: [] }; })
      .then(function (page) {
        page.events.filter(function (e) { return e.id > after; }).reverse().forEach(render);
      })
      .catch(function () {});
  }

  var TEXT = {
    connecting: "connecting…", live: "live", renewing: "renewing…", reconnecting: "reconnecting…",
    forbidden: "not available", signed_out: "signed out", unavailable: "live updates unavailable"
  };
  var OFF = { forbidden: 1, signed_out: 1, unavailable: 1 };

  // The session rules (4401 → renew over HTTP and reconnect, 4403, backoff) are the claims
  // component's (claims/socket.js); this page renders events and says how live it is.
  var socket = claimsSocket({
    path: list.dataset.wsPath,
    sessionUrl: list.dataset.sessionUrl,
    onState: function (state) {
      show(TEXT[state] || state, state === "live" ? "on" : (OFF[state] ? "off" : ""));
      if (state === "live") backfill();
      if (state === "unavailable") retry.hidden = false;
    },
    onMessage: function (data) {
      if (data.type === "event") render(data.event);
    }
  });

  retry.addEventListener("click", function () {
    retry.hidden = true;
    socket.retry();
  });
})();
