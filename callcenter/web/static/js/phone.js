// The agent's phone, behind one small interface: answer, hangup, hold, resume, mute, dtmf.
// SimulatedPhone drives the simulator's phone of this endpoint over HTTP (demo mode); WebRtcPhone is a
// JsSIP softphone registered to Asterisk's PJSIP over WSS (real mode; not testable here, kept small).

import { api } from "./api.js";

export class SimulatedPhone {
  constructor(endpoint) { this.endpoint = endpoint; this.canMute = false; this.status = "simulated phone"; }
  act(what, body) { return api("POST", `/api/sim/phone/${encodeURIComponent(this.endpoint)}/${what}`, body); }
  answer() { return this.act("answer"); }
  hangup() { return this.act("hangup"); }
  hold() { return this.act("hold"); }
  resume() { return this.act("resume"); }
  dtmf(digits) { return this.act("dtmf", { digits }); }
  mute() { return Promise.reject(new Error("the simulated phone has no microphone to mute")); }
}

export class WebRtcPhone {
  // sip: {wss_url, domain, user} from /api/desktop/config; the password is typed by the agent.
  constructor(sip, onStatus) {
    this.sip = sip; this.onStatus = onStatus; this.canMute = true; this.session = null; this.muted = false;
    this.audio = new Audio(); this.audio.autoplay = true;
  }

  async register(password) {
    const { default: JsSIP } = await import("/static/vendor/jssip-3.13.8.esm.js");
    const socket = new JsSIP.WebSocketInterface(this.sip.wss_url);
    this.ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${this.sip.user}@${this.sip.domain}`, password,
      register: true, session_timers: false });
    this.ua.on("registered", () => this.onStatus("phone registered"));
    this.ua.on("registrationFailed", (e) => this.onStatus(`phone registration failed: ${e.cause}`));
    this.ua.on("disconnected", () => this.onStatus("phone disconnected from Asterisk"));
    this.ua.on("newRTCSession", ({ session, originator }) => {
      if (originator !== "remote") return;
      this.session = session;
      session.on("ended", () => { this.session = null; });
      session.on("failed", () => { this.session = null; });
      session.on("peerconnection", ({ peerconnection }) => {
        peerconnection.addEventListener("track", (event) => { this.audio.srcObject = event.streams[0]; });
      });
    });
    this.ua.start();
  }

  need() { if (!this.session) throw new Error("no call on the softphone"); return this.session; }
  async answer() { this.need().answer({ mediaConstraints: { audio: true, video: false } }); }
  async hangup() { this.need().terminate(); }
  async hold() { this.need().hold(); }
  async resume() { this.need().unhold(); }
  async dtmf(digits) { this.need().sendDTMF(digits); }
  async mute() {
    const session = this.need();
    this.muted = !this.muted;
    if (this.muted) session.mute({ audio: true }); else session.unmute({ audio: true });
    return this.muted;
  }
}
