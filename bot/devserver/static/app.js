// The demo page: three simulated Telegram users' chats with the bot, kept live by
// server-sent events. All text goes in with textContent; the one exception is a message's
// "html", which the server builds from Telegram's entities with every character escaped.
// Every word of the page's own is in strings.json, by language: t("key") here,
// data-i18n="key" (text) and data-i18n-aria-label="key" in index.html.
"use strict";

(() => {
  const MAX_CELL = 48; // database values longer than this are shortened
  const MAX_TEXT = 4096; // as web.py: Telegram's limit for one message
  const MAX_FILE_MB = 20; // as web.py: what a bot can download at most
  const LANGUAGE_KEY = "confide-demo-language"; // localStorage: the language last chosen
  const chats = new Map(); // user_id -> Chat
  const status = document.getElementById("status");
  let tables = {}; // language -> {key: text}, from strings.json
  let language = "en";

  // ------------------------------------------------------------------ words
  function t(key, params = {}) {
    const text = tables[language]?.[key] ?? tables.en?.[key] ?? key;
    return text.replace(/\{(\w+)\}/g,
      (whole, name) => (name in params ? String(params[name]) : whole));
  }

  function remembered() {
    try { return localStorage.getItem(LANGUAGE_KEY); } catch { return null; } // storage off
  }

  function remember(code) {
    try { localStorage.setItem(LANGUAGE_KEY, code); } catch { /* then for this visit only */ }
  }

  // The language chosen with the switch; else the browser's first one the page speaks, by
  // its first part (so any Chinese is Simplified Chinese); else English.
  function chooseLanguage() {
    const saved = remembered();
    if (saved && tables[saved]) return saved;
    for (const tag of navigator.languages || [navigator.language]) {
      const base = String(tag).toLowerCase().split("-")[0];
      const found = Object.keys(tables).find((code) => code.toLowerCase().split("-")[0] === base);
      if (found) return found;
    }
    return "en";
  }

  // Each key written out in full: tests/devserver/test_page_strings.py finds them here.
  const ROLE_KEYS = {
    reporter: { tab: "tab.reporter", word: "role.reporter" },
    responder: { tab: "tab.responder", word: "role.responder" },
    admin: { tab: "tab.admin", word: "role.admin" },
  };
  const roleTab = (role) => (ROLE_KEYS[role] ? t(ROLE_KEYS[role].tab) : role);
  const roleWord = (role) => (ROLE_KEYS[role] ? t(ROLE_KEYS[role].word) : role);

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  // A failed call carries its HTTP status (0: no answer at all); reason() words it.
  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw Object.assign(new Error(error.message), { status: 0 });
    }
    if (!response.ok) {
      throw Object.assign(new Error(response.statusText), { status: response.status });
    }
    return response.json();
  }

  // Why something failed, in the page's words (the server's own are for developers).
  function reason(error) {
    switch (error.status) {
      case 0: return t("reason.offline");
      case 404: return t("reason.gone");
      case 409: return t("reason.buttonGone");
      case 413: return t("reason.tooLarge", { size: `${MAX_FILE_MB} MB` });
      case undefined: return error.message; // a fault of the page itself
      default: return t("reason.refused", { status: error.status });
    }
  }

  function postJson(path, body) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  function say(text) {
    status.textContent = text;
  }

  // Icons are drawn here, not emoji: a machine without an emoji font would show boxes.
  const ICONS = {
    clip: "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5",
    file: "M6 2.5h8l4 4v15H6z M14 2.5v4h4",
  };

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [key, value] of Object.entries({
      viewBox: "0 0 24 24", width: 20, height: 20, "aria-hidden": "true", focusable: "false",
      class: "icon-svg",
    })) svg.setAttribute(key, String(value));
    const path = document.createElementNS(ns, "path");
    for (const [key, value] of Object.entries({
      d: ICONS[name], fill: "none", stroke: "currentColor", "stroke-width": "1.8",
      "stroke-linecap": "round", "stroke-linejoin": "round",
    })) path.setAttribute(key, value);
    svg.append(path);
    return svg;
  }

  function shortDate(iso) {
    return new Date(iso).toLocaleString(t("meta.locale"), {
      day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC",
    });
  }

  function fileSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // Refetch something on demand, at most one request at a time, coalescing requests.
  function coalesced(load) {
    let running = false;
    let again = false;
    return async function run() {
      if (running) { again = true; return; }
      running = true;
      try {
        do { again = false; await load(); } while (again);
      } catch (error) {
        say(t("error.refresh", { reason: reason(error) }));
      } finally {
        running = false;
      }
    };
  }

  // ---------------------------------------------------------------------- chat
  class Chat {
    constructor(person) {
      this.person = person;
      this.shown = new Map(); // message_id -> {key, node}
      this.pinned = true; // scrolled to the newest message: stay there as things change
      this.refresh = coalesced(() => this.load());
      const id = `chat-${person.role}`;
      this.menuId = `${id}-menu`;
      const title = t("chat.title", { name: person.first_name, role: roleWord(person.role) });

      this.list = el("ol", {
        class: "messages", "data-testid": "messages", "aria-live": "polite",
        "aria-label": t("chat.messages", { name: title }), tabindex: 0,
      });
      this.empty = el("p", { class: "empty" }, t("chat.empty"));
      this.notice = el("p", { class: "notice", role: "status" });
      this.replyKeyboard = el("div", {
        class: "reply-keyboard", role: "group", "aria-label": t("chat.replyKeyboard"),
        hidden: true,
      });
      this.menu = el("div", {
        class: "menu-popup", id: this.menuId, role: "group", "aria-label": t("chat.commands"),
        hidden: true,
      });
      this.menuButton = el("button", {
        type: "button", class: "icon", "data-testid": "menu",
        "aria-label": t("chat.commandsMenu"), "aria-expanded": "false",
        "aria-controls": this.menuId,
      }, "/");
      this.file = el("input", {
        type: "file", class: "visually-hidden", "data-testid": "file",
      });
      this.composer = el("textarea", {
        id: `${id}-composer`, rows: 1, "data-testid": "composer",
        placeholder: t("chat.placeholder"), autocomplete: "off",
      });
      this.sendButton = el("button", { type: "submit", "data-testid": "send" }, t("chat.send"));
      const form = el("form", { class: "composer" },
        this.menuButton,
        el("label", { class: "attach icon", title: t("chat.attach") },
          this.file,
          icon("clip"),
          el("span", { class: "visually-hidden" }, t("chat.attach"))),
        el("label", { class: "visually-hidden", for: `${id}-composer` },
          t("chat.composer", { name: title })),
        this.composer,
        this.sendButton);

      this.section = el("section", {
        class: "chat", id, "data-role": person.role,
        "aria-label": t("chat.label", { role: roleTab(person.role) }),
      },
      el("header", { class: "chat-head" },
        el("h2", {}, title)),
      this.list, this.empty, this.notice, this.replyKeyboard, this.menu, form);

      this.list.addEventListener("scroll", () => { this.pinned = this.nearBottom(80); });
      // A narrower window, a keyboard appearing, an image loading: keep the newest in view.
      new ResizeObserver(() => { if (this.pinned) this.scrollToEnd(); }).observe(this.list);

      form.addEventListener("submit", (event) => { event.preventDefault(); this.sendText(); });
      this.composer.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.sendText();
        }
      });
      this.menuButton.addEventListener("click", () => this.toggleMenu());
      this.menu.addEventListener("keydown", (event) => {
        if (event.key === "Escape") { this.closeMenu(); this.menuButton.focus(); }
      });
      this.file.addEventListener("change", () => this.sendFile());
    }

    get id() { return this.person.user_id; }

    tell(text) { this.notice.textContent = text; }

    async load() {
      const data = await api(`/api/chats/${this.id}`);
      this.render(data);
    }

    // ---------------------------------------------------------- rendering
    render(data) {
      const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
      let added = false;
      let previous = null;
      const present = new Set();
      for (const message of data.messages) {
        present.add(message.message_id);
        const key = JSON.stringify(message);
        let entry = this.shown.get(message.message_id);
        if (!entry || entry.key !== key) {
          const node = this.messageNode(message);
          if (entry) {
            this.keepFocus(entry.node, node, focused);
            entry.node.replaceWith(node);
          } else {
            added = true;
          }
          entry = { key, node };
          this.shown.set(message.message_id, entry);
        }
        const expected = previous ? previous.nextSibling : this.list.firstChild;
        if (entry.node !== expected) this.list.insertBefore(entry.node, expected);
        previous = entry.node;
      }
      for (const [messageId, entry] of this.shown) {
        if (!present.has(messageId)) {
          if (entry.node.contains(focused)) this.list.focus();
          entry.node.remove();
          this.shown.delete(messageId);
        }
      }
      this.renderReplyKeyboard(data.reply_keyboard);
      this.empty.hidden = data.messages.length > 0;
      if (added) {
        if (this.pinned || data.messages.at(-1)?.from === "user") this.scrollToEnd();
        markUnread(this);
      }
      this.rendered = true;
    }

    // A message replaced while a button in it had focus: focus the same button again.
    keepFocus(oldNode, newNode, focused) {
      if (!focused || !oldNode.contains(focused)) return;
      const oldButtons = [...oldNode.querySelectorAll("button, a")];
      const index = oldButtons.indexOf(focused);
      queueMicrotask(() => {
        const again = [...newNode.querySelectorAll("button, a")][index];
        (again || this.list).focus();
      });
    }

    nearBottom(margin) {
      return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < margin;
    }

    scrollToEnd() {
      this.list.scrollTop = this.list.scrollHeight;
      this.pinned = true;
    }

    messageNode(message) {
      const fromBot = message.from === "bot";
      const bubble = el("div", { class: "bubble" },
        el("span", { class: "visually-hidden" },
          t(fromBot ? "message.fromBot" : "message.fromYou")));
      if (message.file) bubble.append(this.fileNode(message.file));
      if (message.html) {
        const text = el("div", { class: "text" });
        text.innerHTML = message.html; // escaped by the server (web.entities_to_html)
        bubble.append(text);
      } else if (!message.file) {
        bubble.append(el("div", { class: "text muted" }, t("message.noText")));
      }
      bubble.append(el("div", { class: "meta" },
        message.edited ? el("span", { class: "edited" }, t("message.edited")) : null,
        el("time", { datetime: message.date }, shortDate(message.date))));
      const node = el("li", {
        class: `message from-${message.from}`, "data-testid": "message",
        "data-from": message.from, "data-message-id": message.message_id,
      }, bubble);
      if (message.buttons.length) node.append(this.keyboardNode(message));
      return node;
    }

    fileNode(file) {
      if (file.kind === "photo" && file.thumbnail_url) {
        const image = el("img", {
          src: file.thumbnail_url, alt: t("message.photo"), loading: "lazy",
        });
        image.addEventListener("load", () => { if (this.pinned) this.scrollToEnd(); });
        return el("a", {
          class: "photo", href: file.url, target: "_blank", rel: "noopener",
          "aria-label": t("message.openPhoto", { size: fileSize(file.size) }),
        }, image);
      }
      const name = file.name || file.kind;
      return el("a", { class: "file", href: file.url, download: name },
        icon("file"),
        `${name} `,
        el("span", { class: "muted" }, `(${fileSize(file.size)})`));
    }

    keyboardNode(message) {
      const keyboard = el("div", {
        class: "keyboard", role: "group", "aria-label": t("message.buttons"),
      });
      for (const row of message.buttons) {
        const line = el("div", { class: "row" });
        for (const button of row) {
          if (button.data !== null) {
            const node = el("button", { type: "button", "data-testid": "inline-button" },
              button.text);
            node.addEventListener("click", () => this.press(message.message_id, button, node));
            line.append(node);
          } else if (button.url) {
            line.append(el("a", {
              class: "url-button", href: button.url, target: "_blank", rel: "noopener noreferrer",
            }, `${button.text} ↗`));
          } else {
            line.append(el("button", { type: "button", disabled: true }, button.text));
          }
        }
        keyboard.append(line);
      }
      return keyboard;
    }

    renderReplyKeyboard(rows) {
      const key = JSON.stringify(rows);
      if (key === this.replyKey) return;
      this.replyKey = key;
      this.replyKeyboard.replaceChildren();
      this.replyKeyboard.hidden = !rows;
      for (const row of rows || []) {
        const line = el("div", { class: "row" });
        for (const text of row) {
          const button = el("button", { type: "button" }, text);
          button.addEventListener("click", () => this.send(text));
          line.append(button);
        }
        this.replyKeyboard.append(line);
      }
    }

    // ------------------------------------------------------------- actions
    async send(text) {
      this.tell("");
      if ([...text].length > MAX_TEXT) {
        this.tell(t("error.notSent", { reason: t("reason.tooLong", { count: MAX_TEXT }) }));
        return false;
      }
      try {
        await postJson(`/api/chats/${this.id}/send`, { text });
        return true;
      } catch (error) {
        this.tell(t("error.notSent", { reason: reason(error) }));
        return false;
      }
    }

    async sendText() {
      const text = this.composer.value;
      if (!text.trim()) return;
      this.sendButton.disabled = true;
      try {
        if (await this.send(text)) this.composer.value = "";
      } finally {
        this.sendButton.disabled = false;
        this.composer.focus();
      }
    }

    async press(messageId, button, node) {
      node.disabled = true;
      this.tell("");
      try {
        const answer = await postJson(`/api/chats/${this.id}/press`,
          { message_id: messageId, data: button.data });
        if (answer.text) this.tell(answer.text);
      } catch (error) {
        this.tell(t("error.notPressed", { reason: reason(error) }));
      } finally {
        node.disabled = false;
      }
    }

    async sendFile() {
      const file = this.file.files[0];
      if (!file) return;
      const refused = file.size === 0 ? t("reason.empty")
        : file.size > MAX_FILE_MB * 1024 * 1024
          ? t("reason.tooLarge", { size: `${MAX_FILE_MB} MB` }) : null;
      if (refused) {
        this.tell(t("error.notSent", { reason: refused }));
        this.file.value = "";
        return;
      }
      const body = new FormData();
      body.append("file", file, file.name);
      this.tell(t("chat.sending", { name: file.name }));
      try {
        await api(`/api/chats/${this.id}/file`, { method: "POST", body });
        this.tell("");
      } catch (error) {
        this.tell(t("error.notSent", { reason: reason(error) }));
      } finally {
        this.file.value = "";
      }
    }

    // --------------------------------------------------------------- menu
    async toggleMenu() {
      if (!this.menu.hidden) { this.closeMenu(); return; }
      let commands = [];
      try {
        commands = await api(`/api/chats/${this.id}/menu`);
      } catch (error) {
        this.tell(t("error.noMenu", { reason: reason(error) }));
        return;
      }
      const list = el("ul");
      for (const { command, description } of commands) {
        const button = el("button", { type: "button" },
          el("span", { class: "command" }, `/${command}`), " ",
          el("span", { class: "muted" }, description));
        button.addEventListener("click", () => {
          this.closeMenu();
          this.composer.focus();
          this.send(`/${command}`);
        });
        list.append(el("li", {}, button));
      }
      this.menu.replaceChildren(commands.length
        ? list : el("p", { class: "muted" }, t("chat.noCommands")));
      this.menu.hidden = false;
      this.menuButton.setAttribute("aria-expanded", "true");
      (this.menu.querySelector("button") || this.menuButton).focus();
    }

    closeMenu() {
      this.menu.hidden = true;
      this.menuButton.setAttribute("aria-expanded", "false");
    }
  }

  // ----------------------------------------------- tabs (one chat at a time, narrow)
  const tabs = document.getElementById("tabs");
  const tabButtons = new Map(); // user_id -> button

  function addTab(chat) {
    const button = el("button", {
      type: "button", "aria-controls": chat.section.id, "aria-pressed": "false",
    }, roleTab(chat.person.role));
    button.addEventListener("click", () => {
      showChat(chat);
      chat.section.scrollIntoView({ block: "nearest" }); // its composer in view too
    });
    tabButtons.set(chat.id, button);
    tabs.append(button);
  }

  function showChat(active) {
    for (const chat of chats.values()) {
      const on = chat === active;
      chat.section.classList.toggle("active", on);
      const button = tabButtons.get(chat.id);
      button.setAttribute("aria-pressed", String(on));
      if (on) button.textContent = roleTab(chat.person.role);
    }
    active.scrollToEnd();
  }

  // A new message in a chat hidden behind a tab: say so on its tab.
  function markUnread(chat) {
    const button = tabButtons.get(chat.id);
    const shown = chats.get(chat.id) === chat; // not one replaced by a switch of language
    if (button && shown && !chat.section.classList.contains("active") && chat.rendered) {
      button.textContent = t("tab.unread", { role: roleTab(chat.person.role) });
    }
  }

  // ------------------------------------------------------------- clock, database
  const clock = document.getElementById("clock");

  function showClock(iso) {
    clock.dateTime = iso;
    clock.textContent = new Date(iso).toLocaleString(t("meta.locale"), {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZone: "UTC",
    }) + " UTC";
  }

  const refreshClock = coalesced(async () => showClock((await api("/api/clock")).now));

  const skip = document.getElementById("skip-day");
  skip.addEventListener("click", async () => {
    skip.disabled = true;
    say(t("clock.skipping"));
    try {
      showClock((await api("/api/clock/skip-day", { method: "POST" })).now);
      const moved = t("clock.skipped");
      say(moved);
      setTimeout(() => { if (status.textContent === moved) say(""); }, 5000);
    } catch (error) {
      say(t("error.skipDay", { reason: reason(error) }));
    } finally {
      skip.disabled = false;
      skip.focus();
    }
  });

  const database = document.getElementById("database");
  const databaseToggle = document.getElementById("database-toggle");
  const databaseTables = document.getElementById("database-tables");

  function cell(value) {
    if (value === null || value === undefined) return el("td", { class: "null" }, "NULL");
    const text = String(value);
    if (text.length <= MAX_CELL) return el("td", {}, text);
    return el("td", { title: text }, `${text.slice(0, MAX_CELL - 1)}…`);
  }

  function renderDatabase(tables) {
    const nodes = tables.map(({ table, columns, rows }) => {
      const head = el("tr", {}, ...columns.map((column) => el("th", { scope: "col" }, column)));
      const body = rows.length
        ? rows.map((row) => el("tr", {}, ...row.map(cell)))
        : [el("tr", {}, el("td", { colspan: Math.max(columns.length, 1), class: "null" },
          t("database.noRows")))];
      const caption = rows.length === 1
        ? t("database.rowsOne", { table }) : t("database.rows", { table, count: rows.length });
      return el("div", {
        class: "table-wrap", role: "region", "aria-label": t("database.table", { table }),
        tabindex: 0,
      },
      el("table", {},
        el("caption", {}, caption),
        el("thead", {}, head), el("tbody", {}, ...body)));
    });
    databaseTables.replaceChildren(...nodes);
  }

  const refreshDatabase = coalesced(async () => {
    if (database.hidden) return;
    renderDatabase((await api("/api/database")).tables);
  });

  let databaseTimer = null;
  function scheduleDatabase() { // a burst of changes refreshes the panel once
    clearTimeout(databaseTimer);
    databaseTimer = setTimeout(refreshDatabase, 300);
  }

  function labelDatabaseToggle() {
    databaseToggle.textContent = t(database.hidden ? "database.show" : "database.hide");
  }

  databaseToggle.addEventListener("click", () => {
    const show = database.hidden;
    database.hidden = !show;
    databaseToggle.setAttribute("aria-expanded", String(show));
    labelDatabaseToggle();
    if (show) refreshDatabase();
  });

  // ------------------------------------------------------------------- start
  function refreshAll() {
    for (const chat of chats.values()) chat.refresh();
    refreshClock();
    refreshDatabase();
  }

  function listen() {
    const events = new EventSource("/api/events");
    events.addEventListener("hello", () => { say(""); refreshAll(); });
    events.addEventListener("chat", (event) => {
      const { user_id: userId } = JSON.parse(event.data);
      chats.get(userId)?.refresh();
      scheduleDatabase();
    });
    events.addEventListener("clock", (event) => {
      showClock(JSON.parse(event.data).now);
      scheduleDatabase();
    });
    events.addEventListener("error", () => {
      say(t("error.connectionLost"));
    });
  }

  document.addEventListener("click", (event) => { // a click elsewhere closes open menus
    for (const chat of chats.values()) {
      if (!chat.menu.hidden && !chat.menu.contains(event.target)
          && !chat.menuButton.contains(event.target)) {
        chat.closeMenu();
      }
    }
  });

  // ---------------------------------------------------------------- language
  const languageSwitch = document.getElementById("language");

  // The page's own words, in the page's language.
  function translatePage() {
    document.documentElement.lang = language;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    }
    labelDatabaseToggle();
    for (const button of languageSwitch.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.lang === language));
    }
  }

  // The simulated people's Telegram apps speak the page's language, so the bot answers in it.
  async function tellLanguage() {
    try {
      await postJson("/api/language", { language_code: t("meta.telegram") });
    } catch (error) {
      say(t("error.language", { reason: reason(error) }));
    }
  }

  function addLanguageButtons() {
    for (const [code, table] of Object.entries(tables)) {
      const button = el("button", {
        type: "button", lang: code, "data-testid": `language-${code}`,
      }, table["meta.name"]); // each language named in itself
      button.addEventListener("click", () => {
        if (code !== language) switchTo(code);
      });
      languageSwitch.append(button);
    }
  }

  function switchTo(code) {
    language = code;
    remember(code);
    say("");
    translatePage();
    const active = [...chats.values()].find((chat) => chat.section.classList.contains("active"));
    buildChats(active?.person.role);
    refreshAll();
    tellLanguage();
  }

  // ------------------------------------------------------------------- start
  let people = [];

  function buildChats(activeRole) {
    chats.clear();
    tabButtons.clear();
    tabs.replaceChildren();
    const container = document.getElementById("chats");
    container.replaceChildren();
    for (const person of people) {
      const chat = new Chat(person);
      chats.set(person.user_id, chat);
      container.append(chat.section);
      addTab(chat);
    }
    const all = [...chats.values()];
    const active = all.find((chat) => chat.person.role === activeRole) || all[0];
    if (active) showChat(active);
  }

  async function start() {
    tables = await api("/static/strings.json");
    language = chooseLanguage();
    addLanguageButtons();
    translatePage();
    const told = tellLanguage(); // on a new demo, the bot's first words wait for this
    people = await api("/api/people");
    buildChats();
    listen(); // its first event ("hello") loads everything
    setInterval(refreshClock, 30_000); // the bot's clock runs on by itself too
    await told;
  }

  start().catch((error) => say(t("error.notStarted", { reason: reason(error) })));
})();
