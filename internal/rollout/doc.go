// Package rollout drives a gated blue→green migration: the plan (steps, holds,
// gates), the state machine, the gate verdicts, persistence and the events
// operators see.
//
// A Controller moves the share of users on green through the plan's steps
// (10, 25, 50, 75, 100 % by default). At each step it sets the weight, holds
// for the plan's hold time, then asks the gates for a verdict: absolute limits
// on green (error rate, P95, optional P99, connection and subscription
// preservation) and a relative, non-inferiority comparison of green with blue
// (two-proportion z-test on error rates, bootstrap CI of the P95 difference
// with Mann-Whitney U reported beside it). A pass moves on, an inconclusive
// verdict extends the hold a bounded number of times, a fail rolls everyone
// back to blue. A gate judges its step's own traffic: the health both
// backends recorded since the step began (moves, hold, pauses and the
// extensions so far), at most one health window.
//
//	idle ─Start─▶ preparing ─green ok─▶ shifting(step 1..n) ─last passed─▶ completed
//	                  │                     │  ▲
//	                  │ green down          │  │ Pause / Resume
//	                  ▼                     ▼  │
//	             rolling_back ◀─gate failed─ paused
//	                  │
//	                  ▼
//	             rolled_back
//
// Abort stops where it stands (aborted); Promote jumps to 100 % without
// further gates; EmergencyRollback moves every session to blue as fast as the
// shifter allows. A transition that is not allowed in the current phase
// fails with a *TransitionError carrying that phase. A rollout only moves
// users toward green: Start refuses a plan whose first step is below the
// weight the gateway stands at (a *DecreaseError) unless told otherwise
// (Override.AllowDecrease).
//
// The controller depends only on small interfaces declared here (Shifter,
// HealthSource, Prober, Notifier, Store), so it is tested with fakes and wired
// to the gateway, health, alert and store packages by the command.
//
// Persistence follows "write the intent, then act": every transition is
// stored (compare-and-set on the state blob) before the controller acts on
// it. A restarted controller loads the state, re-applies the stored weight
// (idempotent: nobody in place moves) and continues the stored step; steps
// already passed are never run again. Its health began with the new
// process, so the first gate after a restart that finds too little data
// starts the step's hold again instead of spending an extension.
package rollout
