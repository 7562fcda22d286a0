// Package service holds Baton's reference pub/sub services and the plumbing
// they share.
//
// Both services (legacy WebSocket and Socket.IO) sit on a broker.Broker and
// are built from the same parts:
//
//   - Hub: one broker subscription per channel per process, fanned out to
//     every local connection subscribed to it, with gap-free and
//     duplicate-free replay ("since seq N, then live").
//   - Limits: per-connection bounds (message size, subscriptions, outbound
//     queue) and the graceful-shutdown drain period.
//   - PublishHandler: POST /api/v1/publish, mounted by both services.
//   - Legacy: the legacy JSON-over-WebSocket protocol (docs/protocols/legacy.md).
//
// The Socket.IO service lives in this package too (files socketio*.go).
package service
