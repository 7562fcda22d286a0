package alert

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// record is a normalized event with its details already encoded, shared by
// every webhook's formatter.
type record struct {
	Event
	details json.RawMessage // nil when the event has no details
	source  string          // who sends: Options.Source
}

// newRecord encodes ev's details once. Details that do not encode (a channel,
// a NaN) are replaced by a note, because an alert without its details is
// still worth sending.
func newRecord(ev Event, source string) record {
	r := record{Event: ev, source: source}
	if len(ev.Details) > 0 {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"details_error": err.Error()})
		}
		r.details = b
	}
	r.Details = nil // the caller owns the map; only the encoding travels
	return r
}

// formatter turns a record into a request body; skip means this webhook
// does not want the event (PagerDuty is told about incidents only).
type formatter func(r *record) (body []byte, skip bool, err error)

// GenericSchemaVersion is the "version" field of the generic JSON payload.
const GenericSchemaVersion = 1

// Generic is Baton's own webhook payload, documented here because receivers
// code against it:
//
//	{
//	  "version":    1,                        // GenericSchemaVersion
//	  "kind":       "gate_failed",            // a Kind
//	  "rollout_id": "r-42",
//	  "step":       2,                        // 1-based; 0 = none
//	  "weight":     25,                       // percent of users on green
//	  "severity":   "error",                  // info|warning|error|critical
//	  "message":    "green P95 812ms > 500ms",
//	  "time":       "2025-01-02T03:04:05.123456789Z", // RFC 3339, UTC
//	  "source":     "baton@host-1",
//	  "details":    {...}                     // omitted when empty
//	}
type Generic struct {
	Version   int             `json:"version"`
	Kind      Kind            `json:"kind"`
	RolloutID string          `json:"rollout_id"`
	Step      int             `json:"step"`
	Weight    float64         `json:"weight"`
	Severity  Severity        `json:"severity"`
	Message   string          `json:"message"`
	Time      time.Time       `json:"time"`
	Source    string          `json:"source"`
	Details   json.RawMessage `json:"details,omitempty"`
}

func formatGeneric(r *record) ([]byte, bool, error) {
	b, err := json.Marshal(Generic{
		Version:   GenericSchemaVersion,
		Kind:      r.Kind,
		RolloutID: r.RolloutID,
		Step:      r.Step,
		Weight:    finite(r.Weight),
		Severity:  r.Severity,
		Message:   r.Message,
		Time:      r.Time,
		Source:    r.source,
		Details:   r.details,
	})
	return b, false, err
}

// Slack limits (Block Kit reference): a section's text and a field's text.
const (
	slackSectionMax = 3000
	slackFieldMax   = 2000
)

// slackMessage is an incoming-webhook message: text is the notification
// fallback, blocks the rendered layout.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // "mrkdwn" or "plain_text"
	Text string `json:"text"`
}

func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }

var slackEmoji = map[Severity]string{
	SeverityInfo:     ":information_source:",
	SeverityWarning:  ":warning:",
	SeverityError:    ":x:",
	SeverityCritical: ":rotating_light:",
}

func formatSlack(r *record) ([]byte, bool, error) {
	// The fallback text is mrkdwn too (notifications show it): escaped.
	head := fmt.Sprintf("%s %s: rollout %s", slackEmoji[r.Severity], r.Kind.title(), slackEscape(r.RolloutID))
	if r.Message != "" {
		head += " — " + slackEscape(r.Message)
	}
	summary := fmt.Sprintf("*%s %s*", slackEmoji[r.Severity], slackEscape(r.Kind.title()))
	if r.Message != "" {
		summary += "\n" + slackEscape(r.Message)
	}
	blocks := []slackBlock{
		{Type: "section", Text: ptr(mrkdwn(truncate(summary, slackSectionMax)))},
		{Type: "section", Fields: []slackText{
			mrkdwn(truncate("*Rollout*\n"+slackEscape(r.RolloutID), slackFieldMax)),
			mrkdwn("*Step*\n" + strconv.Itoa(r.Step)),
			mrkdwn("*Weight*\n" + formatPercent(r.Weight)),
			mrkdwn("*Severity*\n" + string(r.Severity)),
		}},
	}
	if len(r.details) > 0 {
		// Leave room for the code fence; a cut JSON text is still readable.
		d := truncate(slackEscape(string(r.details)), slackSectionMax-8)
		blocks = append(blocks, slackBlock{Type: "section", Text: ptr(mrkdwn("```" + d + "```"))})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []slackText{
		mrkdwn(slackEscape(fmt.Sprintf("%s · %s · %s", r.Kind, r.Time.Format(time.RFC3339), r.source))),
	}})
	b, err := json.Marshal(slackMessage{Text: truncate(head, slackSectionMax), Blocks: blocks})
	return b, false, err
}

// slackEscape escapes the three characters Slack reads as markup, so a
// message cannot ping a channel or forge a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// PagerDuty Events API v2 limits and actions.
const (
	pdSummaryMax   = 1024
	pdDedupKeyMax  = 255
	pdTrigger      = "trigger"
	pdResolve      = "resolve"
	pdDedupPrefix  = "baton-rollout-"
	pdComponent    = "rollout"
	pdClient       = "Baton"
	pdTimestampFmt = "2006-01-02T15:04:05.000Z07:00"
)

// PagerDutyEvent is an Events API v2 alert event. Payload is nil on resolve.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client,omitempty"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"`
}

// PagerDutyPayload is the alert's content (PD-CEF).
type PagerDutyPayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      Severity        `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Class         Kind            `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// PagerDutyDedupKey is the dedup_key of every PagerDuty event of a rollout:
// one incident per rollout, opened by the first trigger and closed by the
// resolve.
func PagerDutyDedupKey(rolloutID string) string {
	return truncate(pdDedupPrefix+rolloutID, pdDedupKeyMax)
}

// pagerDutyAction maps an event to an Events API action. PagerDuty pages
// people, so only incidents reach it: a failed gate, a started rollback, or
// any event of severity error or critical triggers; a rollback that finished
// cleanly, a completed rollout or an aborted one (an operator's abort during
// a rollback ends it, and no later event of the rollout would) resolves; the
// rest is skipped.
func pagerDutyAction(r *record) string {
	switch {
	case r.Kind == KindGateFailed, r.Kind == KindRollbackStarted, r.Severity.incident():
		return pdTrigger
	case r.Kind == KindRollbackFinished, r.Kind == KindCompleted, r.Kind == KindAborted:
		return pdResolve
	}
	return ""
}

func pagerDutyFormatter(routingKey string) formatter {
	return func(r *record) ([]byte, bool, error) {
		action := pagerDutyAction(r)
		if action == "" {
			return nil, true, nil
		}
		ev := PagerDutyEvent{
			RoutingKey:  routingKey,
			EventAction: action,
			DedupKey:    PagerDutyDedupKey(r.RolloutID),
		}
		if action == pdTrigger {
			summary := fmt.Sprintf("%s: rollout %s", r.Kind.title(), r.RolloutID)
			if r.Message != "" {
				summary += ": " + r.Message
			}
			details, err := json.Marshal(struct {
				RolloutID string          `json:"rollout_id"`
				Kind      Kind            `json:"kind"`
				Step      int             `json:"step"`
				Weight    float64         `json:"weight"`
				Message   string          `json:"message,omitempty"`
				Details   json.RawMessage `json:"details,omitempty"`
			}{r.RolloutID, r.Kind, r.Step, finite(r.Weight), r.Message, r.details})
			if err != nil {
				return nil, false, err
			}
			ev.Client = pdClient
			ev.Payload = &PagerDutyPayload{
				Summary:       truncate(summary, pdSummaryMax),
				Source:        r.source,
				Severity:      r.Severity,
				Timestamp:     r.Time.Format(pdTimestampFmt),
				Component:     pdComponent,
				Class:         r.Kind,
				CustomDetails: details,
			}
		}
		b, err := json.Marshal(ev)
		return b, false, err
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// marking the cut with an ellipsis. Invalid UTF-8 is replaced by U+FFFD
// first: JSON would send each invalid byte as that three-byte rune, past
// the limit.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const ell = "…"
	cut := max(n-len(ell), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

func formatPercent(w float64) string {
	return strconv.FormatFloat(finite(w), 'f', -1, 64) + "%"
}

// finite keeps NaN and infinities, which JSON cannot carry, out of payloads.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func ptr[T any](v T) *T { return &v }
