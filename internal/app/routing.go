package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/baton-rt/baton/internal/config"
)

// The gateways on one Redis store must put each user on the same backend:
// with another routing.salt, or other allow or deny lists, one user's
// sessions land on different backends depending on the gateway they
// reach, and a step's counts are wrong without a word. So the holder keeps
// a fingerprint of its routing beside the store's lease (the lease's
// Meta). A gateway that would follow it with another salt is refused at
// startup: every user may be placed otherwise, and a salt is not changed
// in passing. One whose allow or deny list differs follows, and says so
// in its log and status: those lists move a few named users, and a
// rolling restart that changes them meets this at every gateway but the
// last. A follower that finds a holder routing otherwise later (one that
// took the store when its holder went, without meeting this follower)
// reports it the same way. A holder of a version before the fingerprint
// leaves none: no check.

// routingMetaPrefix starts a routing fingerprint.
const routingMetaPrefix = "routing"

// routingFields are the fingerprint's fields, each a config path's last
// part.
var routingFields = [...]string{"salt", "allow", "deny"}

// routingMeta is r's fingerprint: a hash per field, so that a gateway can
// name the one that differs; never the field itself (the salt, user keys).
// The lists are compared as sets, and a key on both is only denied, as
// the router places it.
func routingMeta(r config.Routing) string {
	deny := setOf(r.Deny)
	allow := slices.DeleteFunc(setOf(r.Allow), func(k string) bool {
		_, found := slices.BinarySearch(deny, k)
		return found
	})
	vals := [...][]string{{r.Salt}, allow, deny}
	var b strings.Builder
	b.WriteString(routingMetaPrefix)
	for i, f := range routingFields {
		h := sha256.New()
		h.Write([]byte("baton routing." + f))
		for _, v := range vals[i] {
			h.Write([]byte("\x00" + strconv.Itoa(len(v)) + ":" + v))
		}
		b.WriteString(" " + f + "=" + hex.EncodeToString(h.Sum(nil)[:12]))
	}
	return b.String()
}

// setOf is keys sorted, without repeats.
func setOf(keys []string) []string {
	s := slices.Clone(keys)
	slices.Sort(s)
	return slices.Compact(s)
}

// routingDiffers names the routing settings in which fingerprint theirs
// differs from ours: none when they agree, or when theirs is no routing
// fingerprint (a holder of a version before it gives none); "routing
// settings" when theirs is one whose fields this version cannot read.
func routingDiffers(ours, theirs string) []string {
	rest, ok := strings.CutPrefix(theirs, routingMetaPrefix+" ")
	if !ok || theirs == ours {
		return nil
	}
	mine, their := routingHashes(strings.TrimPrefix(ours, routingMetaPrefix+" ")), routingHashes(rest)
	var differ []string
	known := false
	for _, f := range routingFields {
		m, ok1 := mine[f]
		h, ok2 := their[f]
		if ok1 && ok2 {
			known = true
			if m != h {
				differ = append(differ, "routing."+f)
			}
		}
	}
	if !known {
		return []string{"routing settings"}
	}
	return differ
}

// saltDiffers says whether the differences d (routingDiffers) may
// include the salt: a follower is refused for those.
func saltDiffers(d []string) bool {
	return slices.Contains(d, "routing.salt") || slices.Contains(d, "routing settings")
}

// routingHashes reads a fingerprint's fields.
func routingHashes(s string) map[string]string {
	m := make(map[string]string, len(routingFields))
	for kv := range strings.FieldsSeq(s) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// routingMismatch says that this gateway's fields differ from those of
// the gateway holding the store, holder.
func routingMismatch(fields []string, holder string) string {
	verb, that := "differs", "that"
	if len(fields) > 1 || fields[0] == "routing settings" {
		verb, that = "differ", "those"
	}
	list := fields[0]
	if n := len(fields); n > 1 {
		list = strings.Join(fields[:n-1], ", ") + " and " + fields[n-1]
	}
	return fmt.Sprintf("this gateway's %s %s from %s of the gateway holding rollout.store, %q", list, verb, that, holder)
}
