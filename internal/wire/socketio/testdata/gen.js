// Regenerates golden.json from the official socket.io-parser pinned in
// interop/ (from the repository root:
// node internal/wire/socketio/testdata/gen.js > internal/wire/socketio/testdata/golden.json).
//
// "encode" cases: a packet as socket.io hands it to the official Encoder; we
// record the header text, the attachments (hex) and how the official decoder
// reads the header (placeholders left in place).
// "decode" cases: hand-written wire texts, with the official decoder's
// verdict (ok, or the error) and reading.
// "binary" cases: hand-written headers of binary packets with their
// attachments; "decoder" is the official decoder's verdict once it has
// been fed the header and every attachment (it checks the placeholders
// only then).
"use strict";
const path = require("path");
const root = path.resolve(__dirname, "../../../..");
const { Encoder, Decoder, PacketType } = require(path.join(root, "interop/node_modules/socket.io-parser"));

const cases = [];

// read returns how the official decoder reads one header text, without
// reassembling binary attachments.
function read(wire) {
  try {
    const p = new Decoder().decodeString(wire);
    const out = { type: wireType(wire), nsp: p.nsp };
    if (p.id !== undefined) out.id = p.id;
    if (p.attachments !== undefined) out.attachments = p.attachments;
    if (p.data !== undefined) out.data = JSON.stringify(p.data);
    return { node: "ok", packet: out };
  } catch (e) {
    return { node: "error: " + e.message };
  }
}

// The decoder turns BINARY_EVENT into EVENT; keep the type on the wire.
const wireType = (wire) => Number(wire[0]);

function encode(name, packet) {
  const [header, ...buffers] = new Encoder().encode(packet);
  cases.push({
    name,
    kind: "encode",
    wire: header,
    attachments: buffers.map((b) => Buffer.from(b).toString("hex")),
    ...read(header),
  });
}

function decode(name, wire) {
  cases.push({ name, kind: "decode", wire, ...read(wire) });
}

function binary(name, wire, count) {
  const buffers = Array.from({ length: count }, (_, i) => Buffer.from([i]));
  let decoder = "incomplete";
  try {
    const d = new Decoder();
    d.on("decoded", () => (decoder = "ok"));
    d.add(wire);
    for (const b of buffers) d.add(b);
  } catch (e) {
    decoder = "error: " + e.message;
  }
  cases.push({
    name,
    kind: "binary",
    wire,
    attachments: buffers.map((b) => b.toString("hex")),
    ...read(wire),
    decoder,
  });
}

const T = PacketType;
encode("connect default nsp", { type: T.CONNECT, nsp: "/" });
encode("connect with auth", { type: T.CONNECT, nsp: "/", data: { token: "abc" } });
encode("connect reply", { type: T.CONNECT, nsp: "/", data: { sid: "oSO0OpakMV_3jnilAAAA" } });
encode("connect admin nsp", { type: T.CONNECT, nsp: "/admin" });
encode("connect admin with auth", { type: T.CONNECT, nsp: "/admin", data: { token: "t", pid: "x", offset: "1-0" } });
encode("disconnect", { type: T.DISCONNECT, nsp: "/" });
encode("disconnect nsp", { type: T.DISCONNECT, nsp: "/admin" });
encode("event", { type: T.EVENT, nsp: "/", data: ["hello", 1, "two", { three: 3 }, [4], null, true] });
encode("event no args", { type: T.EVENT, nsp: "/", data: ["ping"] });
encode("event with ack id", { type: T.EVENT, nsp: "/", id: 12, data: ["hello"] });
encode("event nsp ack id", { type: T.EVENT, nsp: "/chat", id: 7, data: ["msg", { a: 1 }] });
encode("event max safe ack id", { type: T.EVENT, nsp: "/", id: Number.MAX_SAFE_INTEGER, data: ["x"] });
encode("event ack id zero", { type: T.EVENT, nsp: "/", id: 0, data: ["x"] });
encode("event numeric name", { type: T.EVENT, nsp: "/", data: [42, "x"] });
encode("event escapes", { type: T.EVENT, nsp: "/", data: ["msg", "héllo \u001e \"q\" \\ \n\t </script> \u2028 😀"] });
encode("event unicode nsp", { type: T.EVENT, nsp: "/ünï", data: ["e"] });
encode("ack", { type: T.ACK, nsp: "/", id: 12, data: ["ok", { n: 1 }] });
encode("ack empty", { type: T.ACK, nsp: "/chat", id: 7, data: [] });
encode("connect_error invalid namespace", { type: T.CONNECT_ERROR, nsp: "/admin", data: { message: "Invalid namespace" } });
encode("connect_error with data", { type: T.CONNECT_ERROR, nsp: "/", data: { message: "Not authorized", data: { code: 401 } } });
encode("binary event", { type: T.EVENT, nsp: "/", data: ["upload", Buffer.from([1, 2, 3])] });
encode("binary event nsp id two attachments", {
  type: T.EVENT,
  nsp: "/files",
  id: 9,
  data: ["up", Buffer.from("first"), { nested: [Buffer.from([0, 0x1e, 0xff])], name: "f.bin" }],
});
encode("binary event empty attachment", { type: T.EVENT, nsp: "/", data: ["e", Buffer.alloc(0)] });
encode("binary ack", { type: T.ACK, nsp: "/files", id: 9, data: [Buffer.from("done")] });

decode("connect nsp without comma", "0/admin");
decode("event nsp without comma", '2/chat["a"]');
decode("explicit root nsp", '2/,["a"]');
decode("leading zero id", '2007["a"]');
decode("leading zero attachments", '501-["a",{"_placeholder":true,"num":0}]');
decode("json whitespace inside", '2[ "a" , 1 ]');
decode("json trailing whitespace", '2["a"] ');
decode("connect_error string", '4"nope"');
decode("connect_error absent", "4");
decode("connect absent", "0");
decode("id on connect", "012{}");
decode("disconnect with id", "1/admin,5");

decode("empty", "");
decode("unknown type", "7");
decode("letter type", "a");
decode("event empty array", "2[]");
decode("event object", '2{"a":1}');
decode("event name object", '2[{"a":1}]');
decode("event name null", "2[null]");
decode("event bad json", '2["a",]');
decode("event truncated", '2["a"');
decode("event trailing garbage", '2["a"]x');
decode("event two values", '2["a"]["b"]');
decode("connect array", "0[]");
decode("connect string", '0"x"');
decode("disconnect payload", "1{}");
decode("ack object", '3{"a":1}');
decode("ack string", '312"x"');
decode("connect_error array", '4["x"]');
decode("binary zero attachments", '50-["a"]');
decode("binary no dash", '51["a"]');
decode("binary no count", '5-["a"]');
decode("reserved event name", '2["connect"]');
decode("bad escape", '2["\\x"]');
decode("control char in string", '2["a\u0001"]');
decode("leading whitespace", '2 ["a"]');

const ph = (num) => `{"_placeholder":true,"num":${num}}`;
binary("placeholder in range", `52-["e",${ph(1)},${ph(0)}]`, 2);
binary("placeholder past the attachments", `51-["e",${ph(1)}]`, 1);
binary("placeholder negative", `51-["e",${ph(-1)}]`, 1);
binary("placeholder num a string", `51-["e",${ph('"0"')}]`, 1);
binary("placeholder num null", `51-["e",${ph("null")}]`, 1);
binary("placeholder without num", '51-["e",{"_placeholder":true}]', 1);
binary("placeholder num fraction in range", `51-["e",${ph(0.5)}]`, 1);
binary("placeholder num fraction below zero", `51-["e",${ph(-0.5)}]`, 1);
binary("placeholder num minus zero", `51-["e",${ph("-0")}]`, 1);
binary("placeholder num exponent", `52-["e",${ph("1e0")}]`, 2);
binary("placeholder num rounds up to the count", `51-["e",${ph("0.99999999999999999")}]`, 1);
binary("placeholder num overflows", `51-["e",${ph("1e400")}]`, 1);
binary("placeholder num underflows", `51-["e",${ph("-1e-400")}]`, 1);
binary("placeholder num huge integer", `51-["e",${ph("123456789012345678901234567890")}]`, 1);
binary("placeholder nested deep", '51-["e",{"a":[1,{"b":{"_placeholder":true,"num":3}}]}]', 1);
binary("placeholder not true", '51-["e",{"_placeholder":"true","num":3},{"_placeholder":1,"num":3}]', 1);
binary("placeholder duplicate key last false", '51-["e",{"_placeholder":true,"_placeholder":false,"num":3}]', 1);
binary("placeholder duplicate key last true", '51-["e",{"_placeholder":false,"num":0,"_placeholder":true,"num":3}]', 1);
binary("placeholder duplicate num last wins", '51-["e",{"num":3,"_placeholder":true,"num":0}]', 1);
binary("placeholder escaped keys", '51-["e",{"\\u005fplaceholder":true,"n\\u0075m":3}]', 1);
binary("placeholder under __proto__", '51-["e",{"__proto__":{"_placeholder":true,"num":3}}]', 1);
binary("placeholder inside a valid one", `51-["e",{"_placeholder":true,"num":0,"x":${ph(9)}}]`, 1);
binary("placeholder bad one inside a plain object", `51-["e",{"x":${ph(9)},"y":${ph(0)}}]`, 1);
binary("placeholder in an ack", `61-7[${ph(1)}]`, 1);
binary("placeholder in an ack in range", `62-7[${ph(1)}]`, 2);
binary("placeholder with whitespace", '51-["e", { "_placeholder" : true , "num" : 1 } ]', 1);
binary("placeholder as the event name", `51-[${ph(5)}]`, 1);

// One case per line keeps diffs readable.
process.stdout.write("[\n" + cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]\n");
