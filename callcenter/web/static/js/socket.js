// The desktop websocket (docs/websocket.md): hello with resume_from, sequence checks, reconnect with
// backoff and jitter, a dead-connection watchdog. Every numbered message reaches `onMessage` once, in order.

const BACKOFF_FIRST = 500;     // ms
const BACKOFF_MAX = 15000;
const SILENCE_MAX = 40000;     // no frame for this long: the connection is dead (server heartbeat: 15 s)

export class DeskSocket {
  constructor({ onMessage, onStatus, onSignedOut }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onSignedOut = onSignedOut;
    this.seq = null;       // last numbered message handled
    this.stream = null;    // the server run it belongs to
    this.attempts = 0;
    this.socket = null;
    this.lastFrame = Date.now();
    this.stopped = false;
    setInterval(() => this.watch(), 5000);
  }

  start() { this.connect(); }

  connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = this.socket = new WebSocket(scheme + location.host + "/ws");
    this.onStatus(this.attempts ? "reconnecting" : "connecting");
    socket.onopen = () => {
      this.lastFrame = Date.now();
      socket.send(JSON.stringify({ type: "hello", resume_from: this.seq, stream: this.stream }));
    };
    socket.onmessage = (event) => {
      this.lastFrame = Date.now();
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") {
        this.stream = message.stream;
        this.seq = message.seq;
        this.attempts = 0;
        this.onStatus("live");
        this.onMessage(message);
      } else if (message.type === "resumed") {
        this.attempts = 0;
        this.onStatus("live");
      } else if (typeof message.seq === "number") {
        if (this.seq !== null && message.seq <= this.seq) return;  // seen already
        if (this.seq !== null && message.seq !== this.seq + 1) {  // a gap: start again from a snapshot
          this.seq = null;
          socket.close(4000, "gap");
          return;
        }
        this.seq = message.seq;
        this.onMessage(message);
      } else {
        this.onMessage(message);  // heartbeat, pong
      }
    };
    socket.onclose = (event) => {
      if (this.socket !== socket || this.stopped) return;
      if (event.code === 4401) { this.stopped = true; this.onSignedOut(); return; }
      if (event.code === 4403) { this.stopped = true; this.onStatus("down", event.reason || "forbidden"); return; }
      const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** this.attempts) * (0.8 + 0.4 * Math.random());
      this.attempts += 1;
      this.onStatus("reconnecting", `(try ${this.attempts}, in ${(delay / 1000).toFixed(1)} s)`);
      setTimeout(() => this.connect(), delay);
    };
  }

  watch() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && Date.now() - this.lastFrame > SILENCE_MAX) {
      this.socket.close(4000, "silent");
    }
  }
}
