package app

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// A follower that moved to blue on the holder's emergency notice, before
// it read the rollback's state, records that weight with no version (the
// notice has none) and the moves that failed. The holder's rollback,
// waiting for its followers with the version stored before it began,
// must count those sessions as left on green: they are, whatever version
// the record names. A CI run's TestFollowerRetriesAnEmergencyRollbacksFailedMoves
// saw the rollback end clean while the follower held 6 sessions on green.
func TestRollbackCountsFailuresOfAFollowerMovedByTheNotice(t *testing.T) {
	holderCfg, _ := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	ctx := testenv.Context(t, 10*time.Second)
	a := h.App
	const follower = "moved-by-the-notice"
	rec, err := json.Marshal(appliedRecord{W: 0, Moved: 2, Failed: 6})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.redis.Set(ctx, a.appliedKey(follower), rec, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.redis.Del(context.Background(), a.appliedKey(follower)) })
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := a.redis.ZAdd(ctx, a.exch.gateways, redis.Z{Score: float64(time.Now().UnixMilli()), Member: follower}).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.redis.ZRem(context.Background(), a.exch.gateways, follower) })

	const since = 5 // the stored version when the rollback began
	moved, failed, err := a.newSyncedShifter().waitFollowers(ctx, router.Weight(0), since, false)
	if err != nil || failed != 6 {
		t.Errorf("waitFollowers at 0 %% since version %d (record at %s ms: %s): moved %d failed %d err %v; want the 6 sessions the follower still holds on green counted as failed",
			since, now, rec, moved, failed, err)
	}
}
