/* Who has the screen open: the page config's `user` ({name, role, rooms: null for every room}), set by the
 * server from the signed-in identity. Screens offer only what the role may do; the server checks it again on
 * every request, so this is about not showing buttons that would fail, not about security.
 */
(function () {
  "use strict";
  var lw = window.livewall;

  // whether `user` has at least `role`, and may act on `room` (when given)
  lw.may = function (user, role, room) {
    var roles = lw.constants.roles;   // lowest first (server/auth.py ROLES)
    if (!user || roles.indexOf(user.role) < 0 || roles.indexOf(user.role) < roles.indexOf(role)) return false;
    return !room || !user.rooms || user.rooms.indexOf(room) >= 0;
  };

  // a sign-out button: end the session, then the sign-in page
  lw.signOut = function (button, lang) {
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch("/api/logout", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
        .then(function () { location.assign("/login?lang=" + (lang || "")); },
              function () { button.disabled = false; });
    });
  };
})();
