// Light or dark: the device's setting unless the bunny chose one. The choice lives in a
// `theme` cookie so the server renders <html data-theme> and the page never flashes the
// wrong colours; this file only changes the choice. Controls stay hidden without it.
(function () {
  "use strict";

  const root = document.documentElement;
  const darkDevice = window.matchMedia("(prefers-color-scheme: dark)");
  const YEAR = 60 * 60 * 24 * 365;

  function chosen() {
    const theme = root.getAttribute("data-theme");
    return theme === "light" || theme === "dark" ? theme : "";
  }

  function shown() {
    return chosen() || (darkDevice.matches ? "dark" : "light");
  }

  function choose(theme) {
    if (theme) {
      root.setAttribute("data-theme", theme);
      document.cookie = "theme=" + theme + "; path=/; max-age=" + YEAR + "; SameSite=Lax";
    } else {
      root.removeAttribute("data-theme");
      document.cookie = "theme=; path=/; max-age=0; SameSite=Lax";
    }
    reflect();
  }

  // Every control says what is on now: the nav switch is pressed in dark mode, the
  // settings radios check the stored choice ("" = follow the device).
  function reflect() {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", shown() === "dark" ? "true" : "false");
      button.hidden = false;
    });
    document.querySelectorAll("[data-theme-choice]").forEach(function (group) {
      group.hidden = false;
      group.querySelectorAll("input[name=theme]").forEach(function (radio) {
        radio.checked = radio.value === chosen();
      });
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-theme-toggle]");
    if (button) choose(shown() === "dark" ? "light" : "dark");
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-theme-choice] input[name=theme]")) {
      choose(event.target.value);
    }
  });

  darkDevice.addEventListener("change", reflect);
  document.addEventListener("DOMContentLoaded", reflect);
})();
