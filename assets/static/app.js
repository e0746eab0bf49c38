/* frontdesk owner UI: small enhancements; every page works without this. */
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // Copy buttons: data-copy names the element whose text is copied.
  $$("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent).then(function () {
        var note = $('[data-copied="' + button.getAttribute("data-copy") + '"]');
        if (note) note.hidden = false;
      });
    });
  });

  // On a phone the main menu folds behind a button (without script it stays open).
  document.documentElement.classList.add("js");
  var toggle = $(".menu-toggle"), nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }

  // A form shown again with a problem: go to the first one, so nothing typed is lost from view.
  var invalid = $("[aria-invalid=true]") || $(".error[role=alert]");
  if (invalid) {
    invalid.scrollIntoView({ block: "center" });
    if (invalid.focus) invalid.focus();
  }

  // Setup: the time zone list starts at the browser's own zone.
  var zone = $("select[data-browser-zone]");
  if (zone && zone.value === "UTC" && window.Intl && Intl.DateTimeFormat) {
    var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (var i = 0; mine && i < zone.options.length; i++) {
      if (zone.options[i].text === mine) { zone.selectedIndex = i; break; }
    }
  }

  // Confirm before destructive forms.
  $$("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });

  // The business switcher submits on change.
  $$("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Live widget preview: colours and name follow the form as the owner types.
  var form = document.getElementById("agent-form");
  function widgetHost() { return $("[data-frontdesk-widget]"); }
  function ink(hex) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return "#fff";
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0612 ? "#ffffff" : "#111827";
  }
  function preview() {
    if (!form) return;
    var primary = form.elements.color_primary.value, secondary = form.elements.color_secondary.value;
    var name = form.elements.agent_name.value || "Assistant";
    var welcome = form.elements.welcome_message ? form.elements.welcome_message.value : "";
    var mock = document.getElementById("mock");
    if (mock) {
      mock.style.setProperty("--p", primary);
      mock.style.setProperty("--s", secondary);
      mock.style.setProperty("--ink", ink(primary));
    }
    var mockName = document.getElementById("mock-name");
    if (mockName) mockName.textContent = name;
    var mockWelcome = document.getElementById("mock-welcome");
    if (mockWelcome && welcome) mockWelcome.textContent = welcome;
    var host = widgetHost();
    if (host) {
      host.style.setProperty("--p", primary);
      host.style.setProperty("--s", secondary);
      host.style.setProperty("--ink", ink(primary));
      var title = host.shadowRoot && host.shadowRoot.querySelector(".head h2");
      if (title) title.textContent = name;
      // The widget's first bubble is the welcome message: it follows the form too.
      var first = host.shadowRoot && host.shadowRoot.querySelector(".log .msg.agent");
      if (first && welcome) first.textContent = welcome;
    }
  }
  if (form) {
    ["input", "change"].forEach(function (ev) { form.addEventListener(ev, preview); });
  }
  function widget() {
    var registry = window.FrontdeskWidget;
    var id = document.body && $("script[data-business]") && $("script[data-business]").getAttribute("data-business");
    return registry && registry.instances && registry.instances[id];
  }
  $$("[data-widget-open]").forEach(function (b) {
    b.addEventListener("click", function () { var w = widget(); if (w && w.open) w.open(); });
  });
  $$("[data-widget-reset]").forEach(function (b) {
    b.addEventListener("click", function () { var w = widget(); if (w && w.reset) { w.reset(); w.open(); } });
  });

  // Drag to reorder questions; the up/down buttons do the same without script.
  var list = $("ol[data-reorder]");
  if (list) {
    var dragged = null;
    list.addEventListener("dragstart", function (e) {
      dragged = e.target.closest("li");
      if (dragged) { dragged.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; }
    });
    list.addEventListener("dragover", function (e) {
      var over = e.target.closest("li");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      var box = over.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      var ids = $$("li[data-id]", list).map(function (li) { return li.getAttribute("data-id"); });
      var body = new URLSearchParams();
      body.set("_csrf", list.getAttribute("data-csrf"));
      body.set("ids", ids.join(","));
      fetch(list.getAttribute("data-reorder"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function () { location.reload(); });
    });
  }
})();
