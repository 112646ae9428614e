// Small progressive enhancements; every page works without this file.

// --- Social: forms, focus after swaps, the search dropdown -----------------------------
(function () {
  "use strict";

  // A form marked data-reset-on-success empties itself once its htmx post succeeded
  // (the composer, comment boxes). On errors the server swaps the form for one with messages.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success")
        && status >= 200 && status < 300) {
      form.reset();
      form.querySelectorAll(".errors").forEach(function (node) { node.remove(); });
      form.querySelectorAll(".field-invalid").forEach(function (node) {
        node.classList.remove("field-invalid");
      });
      form.querySelectorAll("[aria-invalid]").forEach(function (node) {
        node.removeAttribute("aria-invalid");
      });
    }
  });

  // htmx does not swap error answers: say so when an action was rate limited (429).
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 429) return;
    const main = document.getElementById("main");
    let notice = document.getElementById("rate-limit-notice");
    if (!notice) {
      notice = document.createElement("p");
      notice.id = "rate-limit-notice";
      notice.className = "flash";
      notice.setAttribute("role", "status");
      main.prepend(notice);
    }
    const wait = parseInt(xhr.getResponseHeader("Retry-After") || "0", 10);
    notice.textContent = "Hop a little slower: try again in " + (wait || "a few") + " seconds.";
  });

  // When a swap removes the element that held focus and htmx finds nothing with the same
  // id to focus, move focus to the content that replaced it (a removed card: its
  // neighbour), never silently to <body>.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || !target.contains(document.activeElement)) return;
    const id = target.id;
    const focusedId = document.activeElement.id;
    const neighbour = target.nextElementSibling || target.previousElementSibling;
    window.setTimeout(function () {  // after htmx's swap and settle
      const active = document.activeElement;
      if (active && active !== document.body) return;
      // The control that had focus, re-rendered under the same id, before its container.
      const landing = (focusedId && document.getElementById(focusedId))
        || (id && document.getElementById(id))
        || (neighbour && neighbour.isConnected && neighbour)
        || document.getElementById("main");
      if (!landing.matches("a, button, input, textarea, select, [tabindex]")) {
        landing.setAttribute("tabindex", "-1");
      }
      landing.focus({ preventScroll: true });
    }, 80);
  });

  // A chat log (role="log") announces what is added to it. Older messages loaded above
  // the first page are history, not news: the log is quiet while they go in, and speaks
  // again once the accessibility tree has taken them (a few frames later).
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    const log = target && target.matches(".older-messages") && target.closest("[role=log]");
    if (!log) return;
    log.setAttribute("aria-live", "off");
    window.setTimeout(function () { log.setAttribute("aria-live", "polite"); }, 300);
  });

  // The search dropdown: arrows move through results, Escape closes, clicking away hides.
  function searchParts(node) {
    const form = node.closest && node.closest(".nav-search");
    if (!form) return null;
    return { form: form, input: form.querySelector("input[type=search]"),
             results: form.querySelector(".search-dropdown") };
  }

  document.addEventListener("keydown", function (event) {
    const parts = searchParts(event.target);
    if (!parts) return;
    const links = Array.from(parts.results.querySelectorAll("a"));
    const index = links.indexOf(document.activeElement);
    if (event.key === "Escape") {
      parts.results.replaceChildren();
      parts.input.focus();
      event.preventDefault();
    } else if (event.key === "ArrowDown" && links.length) {
      links[Math.min(index + 1, links.length - 1)].focus();
      event.preventDefault();
    } else if (event.key === "ArrowUp" && index >= 0) {
      (index === 0 ? parts.input : links[index - 1]).focus();
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    document.querySelectorAll(".nav-search").forEach(function (form) {
      if (!form.contains(event.target)) {
        form.querySelector(".search-dropdown").replaceChildren();
      }
    });
  });
})();
