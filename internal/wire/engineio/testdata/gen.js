// Regenerates golden.json from the official engine.io-parser pinned in
// interop/ (from the repository root:
// node internal/wire/engineio/testdata/gen.js > internal/wire/engineio/testdata/golden.json).
// Each case records the wire text and the packets the official decoder sees
// in it: the type digit and the data, as text or, for binary, as hex.
"use strict";
const path = require("path");
const root = path.resolve(__dirname, "../../../..");
const parser = require(path.join(root, "interop/node_modules/engine.io-parser"));
const { PACKET_TYPES } = require(path.join(root, "interop/node_modules/engine.io-parser/build/cjs/commons.js"));

const cases = [];
function describe(p) {
  const out = { type: PACKET_TYPES[p.type] };
  if (typeof p.data === "string") out.text = p.data;
  else if (p.data !== undefined) out.hex = Buffer.from(p.data).toString("hex");
  return out;
}

function single(name, packet) {
  parser.encodePacket(packet, false, (wire) => {
    const back = parser.decodePacket(wire, "nodebuffer");
    cases.push({ name, kind: "text", wire, packets: [describe(back)] });
  });
}

function payload(name, packets) {
  parser.encodePayload(packets, (wire) => {
    const back = parser.decodePayload(wire, "nodebuffer");
    cases.push({ name, kind: "payload", wire, packets: back.map(describe) });
  });
}

const handshake = JSON.stringify({
  sid: "lv_VI97HAXpY6yYWAAAC",
  upgrades: ["websocket"],
  pingInterval: 25000,
  pingTimeout: 20000,
  maxPayload: 1000000,
});

single("open", { type: "open", data: handshake });
single("close", { type: "close" });
single("ping", { type: "ping" });
single("pong", { type: "pong" });
single("ping probe", { type: "ping", data: "probe" });
single("pong probe", { type: "pong", data: "probe" });
single("message text", { type: "message", data: "hello" });
single("message empty", { type: "message", data: "" });
single("message utf8", { type: "message", data: "héllo €😀" });
single("message socket.io event", { type: "message", data: '2["chat",{"text":"hi"}]' });
single("upgrade", { type: "upgrade" });
single("noop", { type: "noop" });
single("binary base64", { type: "message", data: Buffer.from([0, 1, 2, 3, 0xfe, 0xff]) });
single("binary base64 one byte", { type: "message", data: Buffer.from([0x1e]) });
single("binary base64 empty", { type: "message", data: Buffer.alloc(0) });

payload("payload one", [{ type: "message", data: "hello" }]);
payload("payload mixed", [
  { type: "message", data: '451-["upload",{"_placeholder":true,"num":0}]' },
  { type: "message", data: Buffer.from("binary \x1e bytes") },
  { type: "ping" },
  { type: "message", data: '2/chat,12["msg","a,b"]' },
  { type: "noop" },
]);
payload("payload heartbeat", [{ type: "ping" }, { type: "pong" }]);
payload("payload open+message", [
  { type: "open", data: handshake },
  { type: "message", data: '0{"sid":"abc"}' },
]);

// One case per line keeps diffs readable.
process.stdout.write("[\n" + cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]\n");
