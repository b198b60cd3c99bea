// Live project events over WebSocket (DESIGN §7).
// The socket never refreshes tokens: on close 4401 (tokenExpired) the page makes one ordinary
// HTTP request, which renews the session and sets new cookies, then reconnects — at most
// MAX_ROTATIONS per ROTATION_WINDOW_MS, after which it shows "live updates unavailable".
(function () {
  "use strict";
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  var retry = document.getElementById("live-retry");
  if (!list || list.dataset.live !== "on") { if (status) status.textContent = ""; return; }

  var MAX_ROTATIONS = 3, ROTATION_WINDOW_MS = 60000;
  var rotations = [], socket = null, backoffMs = 1000, stopped = false;

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

  function unavailable() {
    stopped = true;
    show("live updates unavailable", "off");
    retry.hidden = false;
  }

  function rotate() {
    var now = Date.now();
    rotations = rotations.filter(function (t) { return now - t < ROTATION_WINDOW_MS; });
    if (rotations.length >= MAX_ROTATIONS) { unavailable(); return; }
    rotations.push(now);
    show("renewing…");
    // One ordinary HTTP request: the middleware renews the session and sets the cookies.
    fetch("/auth/session", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (session) {
        if (session.authenticated) { connect(); } else { show("signed out", "off"); }
      })
      .catch(unavailable);
  }

  function connect() {
    if (stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + list.dataset.wsPath);
    socket.onopen = function () {
      backoffMs = 1000;
      show("live", "on");
      backfill();
    };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "event") render(data.event);
    };
    socket.onclose = function (close) {
      socket = null;
      if (close.code === 4401) { rotate(); return; }
      if (close.code === 4403) { show("not available", "off"); return; }
      show("reconnecting…");
      setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30000);
    };
  }

  retry.addEventListener("click", function () {
    retry.hidden = true;
    stopped = false;
    rotations = [];
    connect();
  });
  connect();
})();
