/* frontdesk chat widget.
 * <script src="https://HOST/widget.js" data-business="BUSINESS_ID" async></script>
 * No framework, no third-party requests: it only talks to the origin it was
 * loaded from. Rendered in a shadow root so it neither restyles nor is
 * restyled by the host page. Text from the server is only ever set as text. */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector('script[data-business][src*="widget.js"]');
  if (!script) return;
  var businessId = script.getAttribute("data-business");
  if (!businessId) return;
  var api = new URL(script.src, location.href).origin;
  var registry = (window.FrontdeskWidget = window.FrontdeskWidget || { instances: {} });
  if (registry.instances[businessId]) return; // loaded twice: keep the first
  registry.instances[businessId] = { pending: true };
  var storeKey = "frontdesk:" + businessId;
  var MAX_KEPT = 50;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  var saved = load();
  var state = {
    sessionId: saved.sessionId || null,
    messages: Array.isArray(saved.messages) ? saved.messages : [],
    open: !!saved.open,
    done: !!saved.done,
    busy: false
  };
  function persist() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({
        sessionId: state.sessionId, messages: state.messages.slice(-MAX_KEPT),
        open: state.open, done: state.done
      }));
    } catch (e) { /* private mode: the conversation lasts for this page only */ }
  }

  // Readable text on the theme colour.
  function inkFor(hex) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return "#fff";
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    // Whichever of white or near-black contrasts more (WCAG ratio).
    return 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0612 ? "#ffffff" : "#111827";
  }

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;cursor:pointer;",
    "background:var(--p);color:var(--ink);box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;z-index:2147483646}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    // Anchored to the viewport's edges (never 100vw): a page that scrolls sideways keeps them on screen.
    ".panel{position:fixed;right:20px;bottom:92px;width:370px;max-width:calc(100% - 40px);height:560px;max-height:calc(100% - 120px);",
    "background:#fff;border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483647}",
    ".panel[hidden]{display:none}",
    ".head{background:var(--p);color:var(--ink);padding:14px 16px;display:flex;align-items:center;gap:10px}",
    ".head h2{margin:0;font-size:16px;font-weight:600;flex:1}",
    ".close{background:transparent;border:0;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px;border-radius:8px}",
    ".log{flex:1;overflow-y:auto;padding:16px;background:#f8fafc;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:85%;padding:10px 13px;border-radius:14px;font-size:14px;line-height:1.45;white-space:pre-wrap;word-wrap:break-word}",
    ".agent{background:#fff;color:#111827;border:1px solid #e5e7eb;align-self:flex-start;border-bottom-left-radius:4px}",
    ".visitor{background:var(--p);color:var(--ink);align-self:flex-end;border-bottom-right-radius:4px}",
    ".urgent{border:2px solid #dc2626;background:#fef2f2}",
    ".typing{color:#6b7280;font-style:italic}",
    ".restart{align-self:center;font-size:13px;color:var(--s);background:none;border:0;text-decoration:underline;cursor:pointer}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e5e7eb;background:#fff}",
    "textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:10px;padding:9px 11px;font-size:16px;min-height:42px;max-height:120px;color:#111827}",
    ".send{background:var(--p);color:var(--ink);border:0;border-radius:10px;padding:0 16px;font-size:14px;font-weight:600;cursor:pointer}",
    ".send:disabled{opacity:.5;cursor:default}",
    "button:focus-visible,textarea:focus-visible{outline:3px solid var(--s);outline-offset:2px}",
    ".brand{text-align:center;font-size:11px;color:#4b5563;padding:0 0 8px;background:#fff}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:480px){.panel{inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}}"
  ].join("");

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  function start(config) {
    var host = el("div");
    host.setAttribute("data-frontdesk-widget", businessId);
    document.body.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    var theme = config.colorTheme || {};
    var primary = theme.primary || "#0ea5e9";
    host.style.setProperty("--p", primary);
    host.style.setProperty("--s", theme.secondary || "#64748b");
    host.style.setProperty("--ink", inkFor(primary));
    var style = el("style");
    style.textContent = CSS;
    root.appendChild(style);

    var name = config.agentName || "Assistant";
    var launcher = el("button", "launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Open chat with " + name);
    launcher.setAttribute("aria-expanded", "false");
    launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

    var panel = el("div", "panel");
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    panel.setAttribute("aria-label", "Chat with " + name);
    // A div, not <header>: the host page has its own banner landmark.
    var header = el("div", "head");
    header.appendChild(el("h2", null, name));
    var close = el("button", "close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", "Close chat");
    header.appendChild(close);
    var log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", "Conversation");
    // A scrolling region a keyboard can reach (and scroll) too.
    log.tabIndex = 0;
    var form = el("form");
    var label = el("label", "sr", "Your message");
    label.setAttribute("for", "fd-input");
    var input = el("textarea");
    input.id = "fd-input";
    input.rows = 1;
    input.maxLength = 2000;
    input.placeholder = "Type your message\u2026";
    var send = el("button", "send", "Send");
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(form);
    if (config.showBranding !== false) panel.appendChild(el("div", "brand", "Powered by frontdesk"));
    root.appendChild(panel);
    root.appendChild(launcher);

    function bubble(m) {
      var b = el("div", "msg " + (m.role === "visitor" ? "visitor" : "agent"), m.text);
      if (m.emergency) { b.className += " urgent"; b.setAttribute("role", "alert"); }
      log.appendChild(b);
      log.scrollTop = log.scrollHeight;
      return b;
    }
    function render() {
      log.textContent = "";
      bubble({ role: "agent", text: config.welcomeMessage || "Hello! How can I help you today?" });
      state.messages.forEach(bubble);
      if (state.done) {
        var again = el("button", "restart", "Conversation complete \u2014 start a new one");
        again.type = "button";
        again.addEventListener("click", reset);
        log.appendChild(again);
      }
      log.scrollTop = log.scrollHeight;
    }
    function setOpen(open) {
      state.open = open;
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      persist();
      if (open) { log.scrollTop = log.scrollHeight; input.focus(); } else { launcher.focus(); }
    }
    function reset() {
      state.sessionId = null; state.messages = []; state.done = false;
      persist(); render(); input.focus();
    }

    function post(path, body) {
      return fetch(api + path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      });
    }
    function friendly(status) {
      return status === 429 ? "You're sending messages too quickly \u2014 please wait a moment."
        : "Sorry, something went wrong. Please try again.";
    }
    // Streams the reply into `b`; resolves with the final JSON.
    function stream(body, b) {
      return post("/api/chat/stream", body).then(function (res) {
        if (!res.ok || !res.body || !res.body.getReader) {
          var err = new Error("stream unavailable"); err.status = res.status; err.early = true; throw err;
        }
        var reader = res.body.getReader(), decoder = new TextDecoder(), buf = "", text = "", result = null, seen = false;
        function handle(block) {
          var event = "message", data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) event = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          if (!data) return;
          var payload = JSON.parse(data);
          if (event === "delta") { seen = true; text += payload.text; b.textContent = text; b.classList.remove("typing"); }
          else if (event === "done") result = payload;
          else if (event === "error") { var e = new Error(payload.error); e.early = !seen; throw e; }
        }
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              if (buf.trim()) handle(buf);
              if (!result) { var e = new Error("stream ended early"); e.early = !seen; throw e; }
              return result;
            }
            buf += decoder.decode(chunk.value, { stream: true });
            var cut;
            while ((cut = buf.indexOf("\n\n")) >= 0) { handle(buf.slice(0, cut)); buf = buf.slice(cut + 2); }
            return pump();
          });
        }
        return pump();
      });
    }
    function plain(body) {
      return post("/api/chat", body).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          if (!res.ok) { var e = new Error(json.error || "failed"); e.status = res.status; throw e; }
          return json;
        });
      });
    }

    function submit(text) {
      text = text.trim();
      if (!text || state.busy) return;
      state.busy = true; send.disabled = true; input.value = "";
      var mine = { role: "visitor", text: text };
      state.messages.push(mine); bubble(mine); persist();
      var b = bubble({ role: "agent", text: "\u2026" });
      b.classList.add("typing");
      var body = { businessId: businessId, message: text };
      if (state.sessionId) body.sessionId = state.sessionId;
      stream(body, b)
        .catch(function (e) { if (e.early && e.status !== 429) return plain(body); throw e; })
        .then(function (r) {
          state.sessionId = r.sessionId || state.sessionId;
          var m = { role: "agent", text: r.reply, emergency: !!(r.emergency && r.emergency.level === "URGENT") };
          state.messages.push(m);
          state.done = !!r.done;
          persist();
          b.remove(); bubble(m);
          if (state.done) render();
        })
        .catch(function (e) {
          b.classList.remove("typing"); b.textContent = friendly(e.status);
        })
        .then(function () { state.busy = false; send.disabled = false; input.focus(); });
    }

    launcher.addEventListener("click", function () { setOpen(panel.hidden); });
    close.addEventListener("click", function () { setOpen(false); });
    root.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) setOpen(false); });
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(input.value); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(input.value); }
    });

    render();
    if (state.open) {
      panel.hidden = false; launcher.setAttribute("aria-expanded", "true");
      log.scrollTop = log.scrollHeight; // only measurable once shown
    }
    var instance = registry.instances[businessId] = {
      open: function () { setOpen(true); }, close: function () { setOpen(false); }, reset: reset,
      send: submit, root: root
    };
    // The page's own shortcuts act on the last widget started.
    registry.open = instance.open; registry.close = instance.close; registry.reset = instance.reset;
  }

  function boot() {
    fetch(api + "/api/chat/config/" + encodeURIComponent(businessId))
      .then(function (r) { if (!r.ok) throw new Error("config " + r.status); return r.json(); })
      .then(start)
      .catch(function (e) { if (window.console) console.warn("frontdesk widget:", e.message); });
  }
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
