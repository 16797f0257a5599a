// The sandbox's web chat page: plain JavaScript, no framework, no build step.
// Every text a person reads comes from DICT (zh and en) or from the bot itself; user and bot
// text is always set with textContent, never parsed as HTML.
"use strict";

const DICT = {
  zh: {
    title: "督办沙盒",
    skipToComposer: "跳到输入框",
    chatList: "会话列表",
    chats: "会话",
    actingAs: "身份",
    switchLanguage: "English",
    switchLanguageLabel: "Switch to English",
    simulatedTime: "模拟时间",
    moveClock: "拨动时钟",
    plusDay: "+1 天",
    plusWeek: "+1 周",
    nextDeadline: "到下一个期限",
    pickChat: "请选择一个会话。",
    messages: "消息",
    message: "消息",
    typeHere: "输入消息或命令，例如 /help",
    sendPhoto: "照片",
    sendFile: "文件",
    send: "发送",
    enterHint: "Enter 发送，Shift+Enter 换行",
    cancelReply: "取消回复",
    replyingTo: "回复：{text}",
    reply: "回复",
    botSays: "督办提示",
    ok: "好",
    edited: "已编辑",
    deleted: "此消息已删除",
    download: "下载",
    photo: "照片",
    joined: "{names} 加入了群聊",
    left: "{name} 离开了群聊",
    privateChat: "与督办的私聊",
    kind_coordination: "协调组",
    kind_department: "部门群",
    kind_region: "县市园区群",
    kind_private: "私聊",
    kind_group: "群聊",
    persona: "{name} · {role}",
    personaWithUnit: "{name} · {unit}{role}",
    role_coordinator: "协调员",
    role_liaison: "联络员",
    role_outsider: "未登记人员",
    bot_starting: "机器人启动中…",
    bot_running: "机器人在线",
    lastSweep: "上次巡查：{time}",
    noSweepYet: "尚未巡查",
    bot_stopped: "机器人已停止，正在重启…",
    live_lost: "实时连接中断，正在重连…",
    clockMoved: "时钟已拨到 {time}",
    noAnswer: "机器人没有回应这次点击。",
    sentParts: "消息过长，已分成 {n} 条发送（与 Telegram 客户端一样）。",
    bytes: "{n} 字节",
    kb: "{n} KB",
    mb: "{n} MB",
    err_network: "无法连接沙盒服务器，请检查它是否仍在运行。",
    err_unknown_persona: "未知的身份。",
    err_unknown_chat: "没有这个会话。",
    err_not_member: "该身份不在这个会话中。",
    err_empty_text: "请先输入内容。",
    err_text_too_long: "消息过长：最多 {limit} 个字符。",
    err_caption_too_long: "说明文字过长：最多 {limit} 个字符。",
    err_file_too_large: "文件过大。",
    err_empty_file: "文件为空。",
    err_refused: "Telegram 拒绝了这个操作：{message}",
    err_no_deadline: "前面没有期限了。",
    err_bad_clock_action: "无法这样拨动时钟。",
    err_bad_request: "请求有误。",
    err_unknown_file: "找不到这个文件。",
    err_unknown: "操作失败（{code}）。",
    guideOpen: "使用指南",
    guideTitle: "第一次来？这样试试",
    guideIntro: "这里模拟督办机器人所在的 Telegram 群聊。用“身份”选一个人（手机上点 ☰），就以他的身份发消息、点按钮。",
    guideStep1: "先扮演协调员{coordinator}，打开“{coordination}”：发送 /status 看各县市进度；在与督办的私聊里发送 /newcase 可以登记新案件。",
    guideStep2: "再换成部门联络员（例如{liaison}），打开本部门督办群：在案件卡片上点“受理”，再点一个办理步骤，按提示用“照片”发现场照片作证明材料，核对后点“确认”。",
    guideStep3: "发送 /case 案件编号（例如 /case CZ-2026-012），可以再看办理记录和证明材料。",
    guideStep4: "用“模拟时间”的“+1 天”“+1 周”“到下一个期限”拨动时钟：到期未办会收到提醒；仍未办理的，协调组会收到通报草稿，协调员点“签发”后才发出。",
    guideNote: "这份指南只自动显示一次，点顶栏的“?”可以再打开。",
    guideStart: "扮演{coordinator}，打开协调组",
    guideDismiss: "知道了",
    guideSomeone: "一位联络员",
  },
  en: {
    title: "duban sandbox",
    skipToComposer: "Skip to the message box",
    chatList: "Chat list",
    chats: "Chats",
    actingAs: "Acting as",
    switchLanguage: "中文",
    switchLanguageLabel: "切换到中文",
    simulatedTime: "Simulated time",
    moveClock: "Move the clock",
    plusDay: "+1 day",
    plusWeek: "+1 week",
    nextDeadline: "To the next deadline",
    pickChat: "Pick a chat.",
    messages: "Messages",
    message: "Message",
    typeHere: "Type a message or a command, e.g. /help",
    sendPhoto: "Photo",
    sendFile: "File",
    send: "Send",
    enterHint: "Enter sends, Shift+Enter starts a new line",
    cancelReply: "Cancel reply",
    replyingTo: "Replying to: {text}",
    reply: "Reply",
    botSays: "duban says",
    ok: "OK",
    edited: "edited",
    deleted: "This message was deleted",
    download: "Download",
    photo: "Photo",
    joined: "{names} joined the group",
    left: "{name} left the group",
    privateChat: "Private chat with duban",
    kind_coordination: "Coordination",
    kind_department: "Department",
    kind_region: "County or park",
    kind_private: "Private",
    kind_group: "Group",
    persona: "{name} · {role}",
    personaWithUnit: "{name} · {role}, {unit}",
    role_coordinator: "Coordinator",
    role_liaison: "Liaison",
    role_outsider: "Not registered",
    bot_starting: "The bot is starting…",
    bot_running: "The bot is online",
    lastSweep: "Last sweep: {time}",
    noSweepYet: "Not swept yet",
    bot_stopped: "The bot stopped; restarting…",
    live_lost: "Live updates interrupted; reconnecting…",
    clockMoved: "The clock now reads {time}",
    noAnswer: "The bot did not answer this press.",
    sentParts: "The message was long, so it went as {n} messages (as Telegram clients do).",
    bytes: "{n} bytes",
    kb: "{n} KB",
    mb: "{n} MB",
    err_network: "Cannot reach the sandbox server; check that it is still running.",
    err_unknown_persona: "Unknown persona.",
    err_unknown_chat: "No such chat.",
    err_not_member: "This persona is not in that chat.",
    err_empty_text: "Type something first.",
    err_text_too_long: "The message is too long: at most {limit} characters.",
    err_caption_too_long: "The caption is too long: at most {limit} characters.",
    err_file_too_large: "The file is too large.",
    err_empty_file: "The file is empty.",
    err_refused: "Telegram refused this: {message}",
    err_no_deadline: "There is no deadline ahead.",
    err_bad_clock_action: "The clock cannot move that way.",
    err_bad_request: "Bad request.",
    err_unknown_file: "File not found.",
    err_unknown: "Something went wrong ({code}).",
    guideOpen: "How to use the sandbox",
    guideTitle: "New here? Try this",
    guideIntro: "This page simulates the Telegram chats the duban bot works in. Pick a person under “Acting as” (on a phone, tap ☰) and you write and press buttons as them.",
    guideStep1: "First play the coordinator {coordinator} and open “{coordination}”: send /status to see how the counties stand; in the private chat with duban, /newcase registers a new case.",
    guideStep2: "Then switch to a department liaison (such as {liaison}) and open the department's group: press 受理 (accept) on a case card, then a step, send a photo from the site with “Photo” as the evidence, check and press 确认 (confirm).",
    guideStep3: "Send /case and a case number (e.g. /case CZ-2026-012) to see the record and the evidence again.",
    guideStep4: "Move the clock under “Simulated time” (+1 day, +1 week, to the next deadline): overdue steps bring reminders; if still not done, the coordination group gets a draft 通报 (notice), sent only when a coordinator presses 签发 (sign off).",
    guideNote: "This guide opens by itself only once; the “?” in the top bar opens it again.",
    guideStart: "Play {coordinator} in the coordination group",
    guideDismiss: "Got it",
    guideSomeone: "a liaison",
  },
};

const TIME_ZONE = "Asia/Shanghai";
const state = {
  lang: "zh",
  world: null,
  personaId: null,
  chatId: null,
  messages: new Map(), // chat id -> Map(message id -> message)
  unread: new Map(), // chat id -> count
  replyTo: null,
  clock: null,
  botState: "starting",
  socket: null,
  socketDelay: 500,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------- texts

function t(key, params = {}) {
  const table = DICT[state.lang] || DICT.zh;
  const text = table[key] ?? DICT.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ""));
}

function applyStaticTexts() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
  const toggle = $("lang-toggle");
  toggle.textContent = t("switchLanguage");
  toggle.setAttribute("aria-label", t("switchLanguageLabel"));
  toggle.lang = state.lang === "zh" ? "en" : "zh-CN";
}

function locale() {
  return state.lang === "zh" ? "zh-CN" : "en-GB";
}

function formatClock(iso) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TIME_ZONE, year: "numeric", month: "long", day: "numeric", weekday: "short",
    hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(iso));
}

function formatMessageTime(unix) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TIME_ZONE, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    hour12: false,
  }).format(new Date(unix * 1000));
}

function formatSize(bytes) {
  if (bytes == null) return "";
  if (bytes < 1024) return t("bytes", { n: bytes });
  if (bytes < 1024 * 1024) return t("kb", { n: (bytes / 1024).toFixed(1) });
  return t("mb", { n: (bytes / 1024 / 1024).toFixed(1) });
}

function errorText(body) {
  if (!body) return t("err_network");
  if (body.message && body.error !== "refused") return body.message;
  const key = `err_${body.error}`;
  if (key in DICT.zh) return t(key, { ...(body.params || {}), message: body.message || "" });
  return t("err_unknown", { code: body.error || "?" });
}

// ---------------------------------------------------------------------------- the server

async function api(path, { method = "GET", json, form } = {}) {
  const headers = { "X-Duban-Sandbox": "1", "X-Duban-Lang": state.lang };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let reply;
  try {
    reply = await fetch(path, { method, headers, body });
  } catch (error) {
    throw new PageError(null);
  }
  let data = null;
  try {
    data = await reply.json();
  } catch (error) {
    data = { error: "unknown", params: {} };
  }
  if (!reply.ok) throw new PageError(data);
  return data;
}

class PageError extends Error {
  constructor(body) {
    super(body ? body.error : "network");
    this.body = body;
  }
}

function report(error) {
  if (error instanceof PageError) toast(errorText(error.body), "error");
  else toast(t("err_unknown", { code: String(error && error.message) }), "error");
}

// ---------------------------------------------------------------------------- toasts and alerts

function toast(text, kind = "info") {
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.textContent = text;
  const box = $("toasts");
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();  // the newest three
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 5000);
}

function alertBox(text) {
  const dialog = $("alert-dialog");
  $("alert-text").textContent = text;
  if (dialog.open) dialog.close();
  dialog.showModal();
  dialog.querySelector("button").focus();
}

// ---------------------------------------------------------------------------- personas and chats

function persona() {
  return state.world?.personas.find((p) => p.id === state.personaId) || null;
}

function personaLabel(p) {
  const role = t(`role_${p.role}`);
  const unit = state.lang === "zh" ? p.unit_zh : p.unit_en;
  return unit ? t("personaWithUnit", { name: p.name, unit, role }) : t("persona", { name: p.name, role });
}

function visibleChats() {
  if (!state.world) return [];
  return state.world.chats.filter((chat) =>
    chat.type === "private" ? chat.id === state.personaId : chat.members.includes(state.personaId),
  );
}

function chatTitle(chat) {
  return chat.type === "private" ? t("privateChat") : chat.title;
}

function renderPersonas() {
  const select = $("persona");
  select.replaceChildren();
  for (const p of state.world.personas) {
    const option = document.createElement("option");
    option.value = String(p.id);
    option.textContent = personaLabel(p);
    option.selected = p.id === state.personaId;
    select.append(option);
  }
  renderPhoneStatus();
}

function renderChats() {
  const list = $("chat-list");
  list.replaceChildren();
  for (const chat of visibleChats()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chat-button";
    button.dataset.chatId = String(chat.id);
    if (chat.id === state.chatId) button.setAttribute("aria-current", "true");
    const title = document.createElement("span");
    title.className = "chat-name";
    title.textContent = chatTitle(chat);
    const kind = document.createElement("span");
    kind.className = "chat-kind";
    kind.textContent = t(`kind_${chat.kind}`);
    button.append(title, kind);
    const unread = state.unread.get(chat.id) || 0;
    if (unread && chat.id !== state.chatId) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(unread);
      button.append(badge);
    }
    button.addEventListener("click", () => openChat(chat.id));
    item.append(button);
    list.append(item);
  }
}

function renderClock() {
  if (!state.clock) return;
  const el = $("clock-now");
  el.dateTime = state.clock.now;
  el.textContent = formatClock(state.clock.now);
  renderPhoneStatus();
  const sweep = $("last-sweep");
  sweep.textContent = state.clock.last_sweep
    ? t("lastSweep", { time: formatClock(state.clock.last_sweep) }) : t("noSweepYet");
}

// The bot sweeps on its own (every second in the sandbox): look again now and then.
async function refreshClock() {
  try {
    state.clock = await api("/api/clock");
    renderClock();
  } catch (error) {
    // the live connection reports the bot's state; nothing to add here
  }
}

function renderBotState() {
  const el = $("bot-state");
  el.textContent = t(`bot_${state.botState}`);
  el.dataset.state = state.botState;
}

// ---------------------------------------------------------------------------- phone bar, guide

const PHONE = window.matchMedia("(max-width: 720px)");

// On a phone the persona picker and the clock panel live in the drawer with the chat list, so
// the screen is left to the chat; the top bar keeps a one-line summary that opens the drawer.
function placeControls() {
  const picker = document.querySelector(".persona");
  const clock = $("clock-panel");
  if (PHONE.matches) {
    $("drawer-tools").append(picker, clock);
  } else {
    $("guide-open").before(picker);
    document.querySelector(".layout").before(clock);
    closeMenu();
  }
  document.body.dataset.layout = PHONE.matches ? "phone" : "wide";
}

function renderPhoneStatus() {
  const p = persona();
  const parts = [];
  if (p) parts.push(p.name);
  if (state.clock) {
    parts.push(new Intl.DateTimeFormat(locale(), {
      timeZone: TIME_ZONE, month: "short", day: "numeric",
    }).format(new Date(state.clock.now)));
  }
  const el = $("phone-status");
  el.textContent = parts.join(" · ");
  el.setAttribute("aria-label", `${t("chatList")}: ${parts.join(", ")}`);
}

const GUIDE_KEY = "duban.guide";

function guideCast() {
  const personas = state.world?.personas || [];
  const chats = state.world?.chats || [];
  const coordinator = personas.find((p) => p.role === "coordinator") || null;
  const coordination = chats.find((c) => c.kind === "coordination") || null;
  const liaison = personas.find((p) => p.role === "liaison" && chats.some(
    (c) => c.kind === "department" && c.members.includes(p.id))) || null;
  return { coordinator, coordination, liaison };
}

function renderGuide() {
  const { coordinator, coordination, liaison } = guideCast();
  const params = {
    coordinator: coordinator ? coordinator.name : t("role_coordinator"),
    coordination: coordination ? coordination.title : t("kind_coordination"),
    liaison: liaison ? personaLabel(liaison) : t("guideSomeone"),
  };
  $("guide-intro").textContent = t("guideIntro");
  const steps = $("guide-steps");
  steps.replaceChildren();
  for (const key of ["guideStep1", "guideStep2", "guideStep3", "guideStep4"]) {
    const item = document.createElement("li");
    item.textContent = t(key, params);
    steps.append(item);
  }
  const start = $("guide-start");
  start.textContent = t("guideStart", params);
  start.hidden = !(coordinator && coordination);
}

function showGuide(open) {
  $("guide").hidden = !open;
  $("guide-open").setAttribute("aria-expanded", String(open));
  document.body.dataset.guide = open ? "open" : "closed";
}

function dismissGuide() {
  localStorage.setItem(GUIDE_KEY, "seen");
  showGuide(false);
  $("composer-text").focus();
}

async function startAsCoordinator() {
  const { coordinator, coordination } = guideCast();
  dismissGuide();
  if (!coordinator || !coordination) return;
  await choosePersona(coordinator.id);
  await openChat(coordination.id);
}

// ---------------------------------------------------------------------------- messages

function store(chatId) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
  return state.messages.get(chatId);
}

function personName(id) {
  const p = state.world?.personas.find((x) => x.id === id);
  return p ? p.name : String(id);
}

function messageElement(msg) {
  const item = document.createElement("li");
  item.className = "message";
  item.dataset.messageId = String(msg.message_id);
  item.dataset.fromBot = String(msg.from_bot);
  if (msg.from_bot) item.classList.add("from-bot");
  else if (msg.from.id === state.personaId) item.classList.add("from-me");
  if (msg.service) {
    item.classList.add("service");
    item.textContent = msg.service.left
      ? t("left", { name: personName(msg.service.left) })
      : t("joined", { names: msg.service.joined.map(personName).join("、") });
    return item;
  }
  const header = document.createElement("div");
  header.className = "meta";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = msg.from.name;
  const time = document.createElement("time");
  time.textContent = formatMessageTime(msg.date);
  header.append(sender, time);
  item.append(header);
  if (msg.deleted) {
    const gone = document.createElement("p");
    gone.className = "deleted";
    gone.textContent = t("deleted");
    item.append(gone);
    return item;
  }
  if (msg.reply_to) item.append(quoteElement(msg.chat_id, msg.reply_to));
  for (const file of msg.files) item.append(fileElement(file));
  if (msg.text) {
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = msg.text;
    item.append(text);
  }
  if (msg.buttons.length) item.append(buttonsElement(msg));
  const footer = document.createElement("div");
  footer.className = "footer";
  if (msg.edited) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = t("edited");
    footer.append(edited);
  }
  const reply = document.createElement("button");
  reply.type = "button";
  reply.className = "link-button reply-button";
  reply.textContent = t("reply");
  reply.setAttribute("aria-label", `${t("reply")}: ${(msg.text || "").slice(0, 40)}`);
  reply.addEventListener("click", () => setReply(msg.message_id));
  footer.append(reply);
  item.append(footer);
  return item;
}

function quoteElement(chatId, messageId) {
  const quote = document.createElement("blockquote");
  quote.className = "quote";
  const original = store(chatId).get(messageId);
  const text = original ? original.text || (original.files[0]?.name ?? "") : `#${messageId}`;
  quote.textContent = `${original ? original.from.name + ": " : ""}${text.slice(0, 80)}`;
  return quote;
}

function fileElement(file) {
  const box = document.createElement("div");
  box.className = `file file-${file.kind}`;
  if (file.kind === "photo") {
    const img = document.createElement("img");
    img.src = file.url;
    img.alt = t("photo");
    img.loading = "lazy";
    if (file.width && file.height) {
      img.width = Math.min(file.width, 280);
      img.height = Math.round(img.width * (file.height / file.width));
    }
    box.append(img);
  }
  const link = document.createElement("a");
  link.href = `${file.url}&download=1`;
  link.download = file.name;
  link.className = "download";
  link.textContent = `${t("download")} ${file.name} (${formatSize(file.size)})`;
  box.append(link);
  return box;
}

function buttonsElement(msg) {
  const box = document.createElement("div");
  box.className = "buttons";
  for (const row of msg.buttons) {
    const line = document.createElement("div");
    line.className = "button-row";
    for (const spec of row) {
      if (spec.url) {
        const link = document.createElement("a");
        link.href = spec.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.className = "inline-button";
        link.textContent = spec.text;
        line.append(link);
        continue;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "inline-button";
      button.textContent = spec.text;
      button.dataset.callback = spec.data || "";
      button.addEventListener("click", () => press(msg, spec, button));
      line.append(button);
    }
    box.append(line);
  }
  return box;
}

function renderMessages() {
  const list = $("messages");
  list.replaceChildren();
  const chat = state.world?.chats.find((c) => c.id === state.chatId);
  $("chat-title").textContent = chat ? chatTitle(chat) : "";
  $("chat-empty").hidden = Boolean(chat);
  $("composer").hidden = !chat;
  if (!chat) return;
  const messages = [...store(chat.id).values()].sort((a, b) => a.message_id - b.message_id);
  for (const msg of messages) list.append(messageElement(msg));
  scrollToEnd();
}

function scrollToEnd() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function upsertMessage(msg) {
  const messages = store(msg.chat_id);
  const isNew = !messages.has(msg.message_id);
  messages.set(msg.message_id, msg);
  if (msg.chat_id !== state.chatId) {
    const chat = state.world?.chats.find((c) => c.id === msg.chat_id);
    const mine = chat && visibleChats().includes(chat);
    if (isNew && mine && !msg.service) {
      state.unread.set(msg.chat_id, (state.unread.get(msg.chat_id) || 0) + 1);
      renderChats();
    }
    return;
  }
  const list = $("messages");
  const existing = list.querySelector(`[data-message-id="${msg.message_id}"]`);
  const element = messageElement(msg);
  if (existing) {
    existing.replaceWith(element); // edited in place
    element.classList.add("changed");
  } else {
    const nearEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    list.append(element);
    if (nearEnd || !msg.from_bot) scrollToEnd();
  }
  maybeReplyTo(msg);
}

function maybeReplyTo(msg) {
  // A question with ForceReply, answering this persona's message: reply to it, as clients do.
  if (!msg.from_bot || !msg.force_reply) return;
  const asked = msg.reply_to ? store(msg.chat_id).get(msg.reply_to) : null;
  if (!asked || asked.from.id === state.personaId) setReply(msg.message_id);
}

function setReply(messageId) {
  state.replyTo = messageId;
  const msg = messageId ? store(state.chatId).get(messageId) : null;
  $("reply-bar").hidden = !msg;
  $("reply-text").textContent = msg ? t("replyingTo", { text: (msg.text || "").slice(0, 60) }) : "";
  if (msg) $("composer-text").focus();
}

// ---------------------------------------------------------------------------- actions

async function openChat(chatId) {
  state.chatId = chatId;
  delete $("messages").dataset.chatId;
  state.unread.delete(chatId);
  localStorage.setItem("duban.chat", String(chatId));
  setReply(null);
  closeMenu();
  renderChats();
  if (chatId == null) {
    renderMessages();
    return;
  }
  await loadMessages(chatId);
  if (state.chatId !== chatId) return; // another chat was opened meanwhile
  renderMessages();
  $("messages").dataset.chatId = String(chatId);
}

async function loadMessages(chatId) {
  try {
    const messages = await api(`/api/chats/${chatId}/messages`);
    const map = new Map();
    for (const msg of messages) map.set(msg.message_id, msg);
    // Keep what arrived live while the list was loading.
    for (const [id, msg] of store(chatId)) if (!map.has(id)) map.set(id, msg);
    state.messages.set(chatId, map);
  } catch (error) {
    report(error);
  }
}

async function choosePersona(id) {
  state.personaId = id;
  localStorage.setItem("duban.persona", String(id));
  state.unread.clear();
  const chats = visibleChats();
  const keep = chats.find((c) => c.id === state.chatId);
  renderPersonas();
  await openChat(keep ? keep.id : (chats[0]?.id ?? null));
  if (state.personaId === id) document.body.dataset.persona = String(id);
}

async function sendText(event) {
  event.preventDefault();
  const box = $("composer-text");
  const text = box.value;
  if (!text.trim()) {
    toast(t("err_empty_text"), "error");
    return;
  }
  const limits = state.world.limits;
  if (text.trim().length > limits.text * limits.text_parts) {
    toast(t("err_text_too_long", { limit: limits.text * limits.text_parts }), "error");
    return;
  }
  const button = $("send-button");
  button.disabled = true;
  try {
    const result = await api(`/api/chats/${state.chatId}/messages`, {
      method: "POST",
      json: { user_id: state.personaId, text, reply_to: state.replyTo },
    });
    box.value = "";
    setReply(null);
    for (const msg of result.messages) upsertMessage(msg);
    if (result.messages.length > 1) toast(t("sentParts", { n: result.messages.length }));
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
    box.focus();
  }
}

async function sendFile(input, kind) {
  const file = input.files && input.files[0];
  input.value = "";
  if (!file || state.chatId == null) return;
  const words = state.world.bot_texts[state.lang] || state.world.bot_texts.zh;
  if (file.size === 0) {
    toast(words.empty_file, "error");
    return;
  }
  if (file.size > state.world.limits.upload) {
    toast(words.file_too_large, "error");
    return;
  }
  const form = new FormData();
  form.append("user_id", String(state.personaId));
  form.append("kind", kind);
  const caption = $("composer-text").value.trim();
  if (caption) form.append("caption", caption);
  if (state.replyTo) form.append("reply_to", String(state.replyTo));
  form.append("file", file, file.name);
  try {
    const result = await api(`/api/chats/${state.chatId}/files`, { method: "POST", form });
    $("composer-text").value = "";
    setReply(null);
    for (const msg of result.messages) upsertMessage(msg);
  } catch (error) {
    report(error);
  }
}

async function press(msg, spec, button) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const answer = await api(`/api/chats/${msg.chat_id}/messages/${msg.message_id}/press`, {
      method: "POST",
      json: { user_id: state.personaId, data: spec.data },
    });
    if (!answer.answered) toast(t("noAnswer"), "error");
    else if (answer.text && answer.show_alert) alertBox(answer.text);
    else if (answer.text) toast(answer.text);
  } catch (error) {
    report(error);
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

async function moveClock(action, button) {
  button.disabled = true;
  try {
    state.clock = await api("/api/clock", { method: "POST", json: { action } });
    renderClock();
    toast(t("clockMoved", { time: formatClock(state.clock.now) }));
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------- live updates

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/ws`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.socketDelay = 500;
    document.body.dataset.live = "true";
  });
  socket.addEventListener("message", (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    handleEvent(data);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.live = "false";
    toast(t("live_lost"), "error");
    setTimeout(async () => {
      await refreshWorld();
      if (state.chatId != null) await openChat(state.chatId);
      connect();
    }, state.socketDelay);
    state.socketDelay = Math.min(state.socketDelay * 2, 10000);
  });
}

function handleEvent(event) {
  switch (event.type) {
    case "hello":
      state.clock = event.clock;
      state.botState = event.bot;
      renderClock();
      renderBotState();
      break;
    case "message":
    case "message_edited":
      upsertMessage(event.message);
      break;
    case "message_deleted": {
      const msg = store(event.chat_id).get(event.message_id);
      if (msg) upsertMessage({ ...msg, deleted: true });
      break;
    }
    case "clock":
      state.clock = event;
      renderClock();
      break;
    case "bot":
      state.botState = event.state;
      renderBotState();
      break;
    case "chats_changed":
      refreshWorld().then(renderChats);
      break;
    default:
      break;
  }
}

async function refreshWorld() {
  try {
    state.world = await api("/api/world");
    state.clock = state.world.clock;
    state.botState = state.world.bot.state;
  } catch (error) {
    report(error);
  }
}

// ---------------------------------------------------------------------------- wiring

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
  $("phone-status").setAttribute("aria-expanded", "false");
}

function toggleMenu() {
  const open = document.body.classList.toggle("menu-open");
  $("menu-toggle").setAttribute("aria-expanded", String(open));
  $("phone-status").setAttribute("aria-expanded", String(open));
  if (open) $("persona").focus();
}

function rerender() {
  applyStaticTexts();
  renderPersonas();
  renderChats();
  renderClock();
  renderBotState();
  renderGuide();
  renderMessages();
}

function wire() {
  $("composer").addEventListener("submit", sendText);
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "Escape") {
      setReply(null);
    }
  });
  $("reply-cancel").addEventListener("click", () => setReply(null));
  $("photo-button").addEventListener("click", () => $("photo-input").click());
  $("file-button").addEventListener("click", () => $("file-input").click());
  $("photo-input").addEventListener("change", (e) => sendFile(e.target, "photo"));
  $("file-input").addEventListener("change", (e) => sendFile(e.target, "document"));
  $("persona").addEventListener("change", (e) => choosePersona(Number(e.target.value)));
  $("lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("duban.lang", state.lang);
    rerender();
  });
  $("menu-toggle").addEventListener("click", toggleMenu);
  $("phone-status").addEventListener("click", toggleMenu);
  $("guide-open").addEventListener("click", () => showGuide($("guide").hidden));
  $("guide-dismiss").addEventListener("click", dismissGuide);
  $("guide-start").addEventListener("click", startAsCoordinator);
  PHONE.addEventListener("change", placeControls);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("menu-open")) closeMenu();
  });
  for (const button of document.querySelectorAll("[data-clock]")) {
    button.addEventListener("click", () => moveClock(button.dataset.clock, button));
  }
}

async function main() {
  state.lang = localStorage.getItem("duban.lang") === "en" ? "en" : "zh";
  applyStaticTexts();
  placeControls();
  wire();
  showGuide(localStorage.getItem(GUIDE_KEY) !== "seen");
  await refreshWorld();
  if (!state.world) return;
  const saved = Number(localStorage.getItem("duban.persona"));
  const first = state.world.personas[0];
  state.personaId = state.world.personas.some((p) => p.id === saved) ? saved : first.id;
  const savedChat = Number(localStorage.getItem("duban.chat"));
  state.chatId = visibleChats().some((c) => c.id === savedChat) ? savedChat : null;
  rerender();
  await choosePersona(state.personaId);
  connect();
  setInterval(refreshClock, 5000);
  document.body.dataset.ready = "true";
}

main();
