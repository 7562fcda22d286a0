// The official socket.io server as a backend that asks its clients
// (an emit with a callback), for the gateway's tests:
//
//   node ask_server.js
//
// On "ask-me" it emits "question" to that socket with a callback. It prints
// one JSON line per thing that happens, first {"listening":PORT}, then
//   {"answer":N}          the callback was called with N arguments
//   {"error":"..."}       the server refused a packet of that socket (the
//                         official parser's error; the server then closes
//                         the connection)
//   {"disconnect":"..."}  a socket left, with the server's reason
// and exits when stdin closes.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer);
const line = (v) => process.stdout.write(JSON.stringify(v) + "\n");

io.on("connection", (socket) => {
  socket.on("ask-me", () => {
    socket.emit("question", (...answer) => line({ answer: answer.length }));
  });
  socket.on("error", (err) => line({ error: err.message }));
  socket.on("disconnect", (reason) => line({ disconnect: reason }));
});

httpServer.listen(0, "127.0.0.1", () => line({ listening: httpServer.address().port }));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
