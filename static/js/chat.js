// The chat page: sends messages over the conversation's websocket and shows the answers as they
// stream in. Streaming text is added as plain text; each finished answer is replaced by the card
// the server rendered (its Markdown sanitised there), so no model output is ever parsed as HTML here.
(function () {
  "use strict";

  // Confirmation dialogs (delete a conversation) open from any page that lists conversations.
  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-open-dialog]");
    if (opener) document.getElementById(opener.dataset.openDialog).showModal();
  });

  const chat = document.querySelector("[data-chat]");
  if (!chat) return;
  const part = (role) => chat.querySelector(`[data-role="${role}"]`);
  const turns = part("turns");
  const composer = part("composer");
  const input = composer.elements.content;
  const sendButton = part("send");
  const stopButton = part("stop");
  let socket = null;
  let currentTurn = null; // the turn whose answers are streaming
  let streaming = false;
  let awaitingTurn = false; // a message was sent and its turn has not begun yet
  let lostDuringTurn = false;

  function setStreaming(value) {
    streaming = value;
    const open = socket && socket.readyState === WebSocket.OPEN;
    sendButton.disabled = streaming || !open;
    stopButton.disabled = !streaming || !open;
  }

  function setStatus(text) {
    part("status").textContent = text;
  }

  function showAlert(text) {
    const alert = part("alert");
    alert.textContent = text;
    alert.classList.toggle("hidden", !text);
  }

  // Inserts server-rendered HTML (a turn, or a finished answer card) and wires its htmx forms.
  function insertHtml(html, place) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const element = template.content.firstElementChild;
    place(element);
    htmx.process(element);
    return element;
  }

  // Only one turn streams at a time, so a slot number names its card.
  function answerCard(slot) {
    return currentTurn && currentTurn.querySelector(`[data-testid="answer"][data-slot="${slot}"]`);
  }

  const handlers = {
    turn(frame) {
      awaitingTurn = false;
      const empty = part("empty");
      if (empty) empty.remove();
      // A second "turn" frame while one streams replaces it: the server asked the models again.
      const streamingTurn = currentTurn;
      currentTurn = insertHtml(frame.html, (element) =>
        streamingTurn ? streamingTurn.replaceWith(element) : turns.append(element));
      part("title").textContent = frame.title;
      const entry = document.querySelector(`#conversation-${chat.dataset.conversationId} [data-testid="conversation-link"]`);
      if (entry) entry.textContent = frame.title;
      turns.scrollTop = turns.scrollHeight;
    },
    chunk(frame) {
      const card = answerCard(frame.slot);
      const content = card && card.querySelector('[data-role="content"]');
      if (!content || card.dataset.status !== "streaming") return;
      const atBottom = turns.scrollHeight - turns.scrollTop - turns.clientHeight < 40;
      content.append(frame.delta);
      if (atBottom) turns.scrollTop = turns.scrollHeight;
    },
    done(frame) {
      const card = answerCard(frame.slot);
      if (card) insertHtml(frame.html, (element) => card.replaceWith(element));
    },
    turn_done(frame) {
      if (currentTurn) currentTurn.dataset.messageId = frame.message_id;
      currentTurn = null;
      setStreaming(false);
      input.focus();
    },
    error(frame) {
      showAlert(frame.message);
      if (awaitingTurn) {
        awaitingTurn = false;
        setStreaming(false);
      }
    },
  };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    setStatus(chat.dataset.textConnecting);
    socket = new WebSocket(scheme + location.host + chat.dataset.wsPath);
    socket.addEventListener("open", function () {
      // Answers cut off by the lost connection were saved as interrupted: show them as stored.
      if (lostDuringTurn) location.reload();
      setStatus(chat.dataset.textConnected);
      setStreaming(false);
    });
    socket.addEventListener("message", function (event) {
      const frame = JSON.parse(event.data);
      const handler = handlers[frame.type];
      if (handler) handler(frame);
    });
    socket.addEventListener("close", function () {
      lostDuringTurn = lostDuringTurn || streaming;
      setStatus(chat.dataset.textDisconnected);
      setStreaming(false);
      setTimeout(connect, 2000);
    });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    const content = input.value.trim();
    if (!content || streaming || socket.readyState !== WebSocket.OPEN) return;
    showAlert("");
    socket.send(JSON.stringify({ type: "send", content: content }));
    input.value = "";
    awaitingTurn = true;
    setStreaming(true);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  stopButton.addEventListener("click", function () {
    socket.send(JSON.stringify({ type: "stop" }));
  });

  // The slot panel and the sidebar change the conversation over HTTP: the socket reads it again.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "reload" }));
    }
  });

  turns.scrollTop = turns.scrollHeight;
  connect();
})();
