// The trainer's room grid: participants x steps, live from the server's event stream.
// Every participant-supplied string is rendered with textContent (never as HTML).
"use strict";
(function () {
  const ru = (navigator.language || "").toLowerCase().startsWith("ru");
  const T = ru ? {
    connecting: "Подключение…", live: "В эфире", lost: "Связь потеряна, переподключение…",
    participant: "Участник", nobody: "Пока никто не присоединился: покажите код входа.",
    csv: "Экспорт CSV", goto: "Перевести всех на этот шаг", reset: "Сбросить эту лабораторную у всех",
    passed: "готово", working: "в работе", stuck: "нужна помощь", done: "Прошли",
    noToken: "Откройте ссылку, которую напечатала команда gantry workshop serve (с токеном).",
    confirmReset: "Сбросить лабораторную у всех участников?", sent: "Отправлено участникам: ",
    people: "участников"
  } : {
    connecting: "Connecting…", live: "Live", lost: "Connection lost, reconnecting…",
    participant: "Participant", nobody: "Nobody has joined yet: show the join code.",
    csv: "Export CSV", goto: "Move everyone to this step", reset: "Reset this lab for everyone",
    passed: "passed", working: "working", stuck: "needs help", done: "Passed",
    noToken: "Open the link `gantry workshop serve` printed (it carries the trainer token).",
    confirmReset: "Reset this lab for every participant?", sent: "Sent to participants: ",
    people: "participants"
  };
  const token = new URLSearchParams(location.hash.slice(1)).get("t") || "";
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  let room = { title: "", labs: [], participants: [] };
  const rows = new Map();
  const columns = () => room.labs.flatMap((l) => l.steps.map((s) => ({ lab: l.id, step: s, key: l.id + "/" + s })));

  function setStatus(text) { $("status").textContent = text; }

  function cellFor(p, key) {
    const status = p.steps[key];
    const td = el("td", status ? T[status] : "", status || "");
    td.dataset.key = key;
    return td;
  }

  function renderRow(p) {
    const tr = el("tr");
    tr.appendChild(el("td", p.name, "name"));
    for (const c of columns()) tr.appendChild(cellFor(p, c.key));
    rows.set(p.id, { tr, p });
    return tr;
  }

  function renderTotals() {
    let foot = $("grid").querySelector("tfoot");
    if (!foot) { foot = el("tfoot"); $("grid").appendChild(foot); }
    foot.replaceChildren();
    const tr = el("tr");
    tr.appendChild(el("td", T.done + " (" + rows.size + " " + T.people + ")", "name"));
    for (const c of columns()) {
      let n = 0;
      for (const { p } of rows.values()) if (p.steps[c.key] === "passed") n++;
      tr.appendChild(el("td", n));
    }
    foot.appendChild(tr);
    $("empty").hidden = rows.size > 0;
  }

  function render() {
    document.title = room.title + " · Gantry";
    $("title").textContent = room.title;
    const head = $("grid").querySelector("thead");
    head.replaceChildren();
    const labRow = el("tr"), stepRow = el("tr");
    labRow.appendChild(el("th", "", "name"));
    stepRow.appendChild(el("th", T.participant, "name"));
    for (const l of room.labs) {
      const th = el("th", l.title);
      th.colSpan = Math.max(1, l.steps.length);
      labRow.appendChild(th);
      for (const s of l.steps) stepRow.appendChild(el("th", s));
    }
    head.append(labRow, stepRow);
    const body = $("grid").querySelector("tbody");
    body.replaceChildren();
    rows.clear();
    for (const p of room.participants) body.appendChild(renderRow(p));
    renderTotals();
    const lab = $("lab");
    if (!lab.options.length) {
      for (const l of room.labs) { const o = el("option", l.title); o.value = l.id; lab.appendChild(o); }
      lab.onchange = fillSteps;
      fillSteps();
    }
  }

  function fillSteps() {
    const l = room.labs.find((x) => x.id === $("lab").value);
    $("step").replaceChildren(...(l ? l.steps : []).map((s) => { const o = el("option", s); o.value = s; return o; }));
  }

  function apply(update) {
    if (update.kind === "joined") {
      room.participants.push(update.participant);
      $("grid").querySelector("tbody").appendChild(renderRow(update.participant));
    } else if (update.kind === "progress") {
      const row = rows.get(update.participant);
      if (!row) return;
      const key = update.lab + "/" + update.step;
      row.p.steps[key] = update.status;
      const old = row.tr.querySelector('td[data-key="' + CSS.escape(key) + '"]');
      if (old) {
        const td = cellFor(row.p, key);
        td.classList.add("flash");
        old.replaceWith(td);
        setTimeout(() => td.classList.remove("flash"), 1500);
      }
    }
    renderTotals();
  }

  async function command(body) {
    const r = await fetch("/api/room/command", {
      method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + token },
      body: JSON.stringify(body)
    });
    const answer = await r.json().catch(() => ({}));
    setStatus(r.ok ? T.sent + answer.sent : String(answer.error || r.status));
  }

  function connect() {
    setStatus(T.connecting);
    const source = new EventSource("/api/room/events?t=" + encodeURIComponent(token));
    source.addEventListener("snapshot", (e) => { room = JSON.parse(e.data); render(); setStatus(T.live); });
    source.addEventListener("update", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("resync", () => { source.close(); connect(); });
    source.onerror = () => setStatus(T.lost);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("csv").textContent = T.csv;
    $("goto").textContent = T.goto;
    $("reset").textContent = T.reset;
    $("empty").textContent = T.nobody;
    for (const s of ["passed", "working", "stuck"]) $("legend").appendChild(el("span", T[s], "swatch " + s));
    if (!token) { setStatus(T.noToken); return; }
    $("csv").href = "/api/room.csv?t=" + encodeURIComponent(token);
    $("goto").onclick = () => command({ kind: "go_to_step", lab: $("lab").value, step: $("step").value });
    $("reset").onclick = () => { if (confirm(T.confirmReset)) command({ kind: "reset_lab", lab: $("lab").value }); };
    connect();
  });
})();
