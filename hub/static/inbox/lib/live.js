// The one live connection of the page: backoff with jitter, a resync on every open,
// never a second socket, and no reconnecting once the hub said "signed out" (4001).
import { backoffDelay } from "./timing.js";

const SIGNED_OUT = 4001;

export class LiveConnection {
  constructor({ onEvent, onOpen, onSignedOut, onState }) {
    Object.assign(this, { onEvent, onOpen, onSignedOut, onState: onState || (() => {}) });
    this.ws = null;
    this.timer = null;
    this.attempt = 0;
    this.wanted = false;
  }

  start() {
    this.wanted = true;
    if (this.ws || this.timer) return; // already connected or about to reconnect
    this.connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.close(1000); }
  }

  connect() {
    this.timer = null;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState("open");
      this.onOpen(); // whatever happened while disconnected: reload what is shown
    };
    ws.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (event && typeof event.type === "string") this.onEvent(event);
    };
    ws.onclose = (closed) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (closed.code === SIGNED_OUT) { this.wanted = false; this.onSignedOut(); return; }
      if (!this.wanted) return;
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), backoffDelay(this.attempt++));
    };
  }
}
