// The claims session's WebSocket rules for a page (DESIGN §7), shipped by osapp.claims.
//
// A socket never refreshes tokens (its handshake response cannot set cookies). On close 4401
// (no valid token, or `tokenExpired` at the token's exp) the page makes one ordinary HTTP
// request to the session URL, which renews the session and sets new cookies, then reconnects:
// at most MAX_ROTATIONS per ROTATION_WINDOW_MS, after which it reports "unavailable". 4403
// reports "forbidden"; any other close reconnects with a backoff of 1 s doubling to 30 s.
//
//   var socket = claimsSocket({ path: "/ws/…", sessionUrl: "/auth/session",
//     onMessage: function (data) {…}, onState: function (state) {…} });
//   socket.retry();  // after "unavailable", e.g. from a button
//
// States: "connecting", "live", "renewing", "reconnecting", "forbidden", "signed_out",
// "unavailable".
(function (global) {
  "use strict";
  var MAX_ROTATIONS = 3, ROTATION_WINDOW_MS = 60000;

  function claimsSocket(options) {
    var rotations = [], socket = null, backoffMs = 1000, stopped = false;
    var onState = options.onState || function () {};
    var onMessage = options.onMessage || function () {};

    function unavailable() {
      stopped = true;
      onState("unavailable");
    }

    function rotate() {
      var now = Date.now();
      rotations = rotations.filter(function (t) { return now - t < ROTATION_WINDOW_MS; });
      if (rotations.length >= MAX_ROTATIONS) { unavailable(); return; }
      rotations.push(now);
      onState("renewing");
      // One ordinary HTTP request: the middleware renews the session and sets the cookies.
      fetch(options.sessionUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (session) {
          if (session.authenticated) { connect(); } else { stopped = true; onState("signed_out"); }
        })
        .catch(unavailable);
    }

    function connect() {
      if (stopped) return;
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + options.path);
      socket.onopen = function () {
        backoffMs = 1000;
        onState("live");
      };
      socket.onmessage = function (message) { onMessage(JSON.parse(message.data)); };
      socket.onclose = function (close) {
        socket = null;
        if (close.code === 4401) { rotate(); return; }
        if (close.code === 4403) { stopped = true; onState("forbidden"); return; }
        onState("reconnecting");
        setTimeout(connect, backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30000);
      };
    }

    onState("connecting");
    connect();
    return {
      retry: function () {
        stopped = false;
        rotations = [];
        connect();
      }
    };
  }

  global.claimsSocket = claimsSocket;
})(window);
