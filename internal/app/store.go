package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/store/boltstore"
	"github.com/baton-rt/baton/internal/store/memstore"
	"github.com/baton-rt/baton/internal/store/redisstore"
)

// The controller finds the lease's unfenced store by this interface: an
// emergency rollback's state and events are written whoever holds the
// lease.
var _ rollout.Unfencer = (*redisstore.FencedStore)(nil)

// storeOpenTimeout bounds reaching a Redis store and taking its lease.
const storeOpenTimeout = 10 * time.Second

// leaseLogEvery spaces the warnings of a lease that cannot be renewed.
const leaseLogEvery = 30 * time.Second

// openStore opens the store cfg.Rollout.Store names, unless Options gave
// one.
func (a *App) openStore(ctx context.Context) error {
	if a.opts.Store != nil {
		a.st = a.opts.Store
		return nil
	}
	sc := a.cfg.Rollout.Store
	var err error
	switch sc.Kind {
	case config.StoreMemory:
		a.st, err = memstore.New(memstore.Options{})
	case config.StoreRedis:
		err = a.openRedisStore(ctx, sc)
	default:
		a.st, err = boltstore.Open(boltstore.Options{Path: sc.Path})
	}
	if err != nil {
		return fmt.Errorf("app: rollout.store: %w", err)
	}
	a.ownStore = true
	return nil
}

// openRedisStore connects to the Redis store and takes its lease, so that
// no second gateway runs a controller on the same rollout. A standby
// waits for the lease as long as ctx lets it.
func (a *App) openRedisStore(ctx context.Context, sc config.Store) error {
	opts, err := redis.ParseURL(sc.RedisURL())
	if err != nil {
		if _, ok := errors.AsType[*url.Error](err); ok {
			// Its message holds the URL, and so perhaps a password.
			return errors.New("url: not a valid URL (the value is not shown: it may hold a secret)")
		}
		return fmt.Errorf("url: %w", err)
	}
	// Context deadlines (the controller's store timeout) bound socket
	// reads only with this; ParseURL has no parameter for it.
	opts.ContextTimeoutEnabled = true
	a.redis = redis.NewClient(opts)
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	st, err := redisstore.New(octx, redisstore.Options{Client: a.redis, Addr: opts.Addr, Prefix: sc.Prefix})
	cancel()
	if err != nil {
		return err
	}
	a.st, a.rstore = st, st
	a.exch = newExchange(a)
	owner, holder := a.owner(), ""
	for {
		octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
		a.lease, err = st.Acquire(octx, owner, a.leaseOptions())
		cancel()
		held, ok := errors.AsType[*redisstore.HeldError](err)
		if holder != "" && ctx.Err() != nil {
			return fmt.Errorf("standing by for the store held by %q: %w", holder, ctx.Err())
		}
		switch {
		case err == nil:
			// As a follower says whom it follows: the one line that tells
			// an operator which gateway runs the rollout.
			a.log.Info("rollout.store: held by this gateway; it runs the rollout", "owner", owner)
			return nil
		case !ok:
			return err
		case sc.WhenHeld == config.WhenHeldFollow:
			if d := routingDiffers(routingMeta(a.cfg.Routing), held.Meta); saltDiffers(d) {
				return fmt.Errorf("%s: the gateways sharing one store must share routing.salt, or a user's sessions land on different backends depending on the gateway they reach; give this gateway the holder's", routingMismatch(d, held.Owner))
			}
			f := newFollower(a, held.Owner)
			a.role.f.Store(f)
			a.log.Info("rollout.store: held by another gateway; following its rollout", "holder", held.Owner, "holder_admin", holderAdmin(held.Owner))
			f.checkRouting(held) // lists that differ: said loudly, not refused
			return nil
		case sc.WhenHeld != config.WhenHeldStandby:
			// when_held left at its default is the likely mistake of a
			// second gateway meant to run beside the first.
			return fmt.Errorf("%w; to run this gateway beside it, set rollout.store.when_held: follow (both serve clients) or standby (this one waits for the store)", err)
		}
		if held.Owner != holder {
			holder = held.Owner
			a.log.Info("rollout.store: held by another gateway; standing by until it is free", "holder", holder, "holder_admin", holderAdmin(holder), "expires_within", held.Expires)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standing by for the store held by %q: %w", holder, ctx.Err())
		case <-time.After(sc.Lease / 3):
		}
	}
}

// leaseOptions are the Redis store lease's: the configured TTL, a
// warning (spaced) when Redis cannot be reached to renew it, and this
// gateway's routing fingerprint for the gateways that would follow it
// (routing.go).
func (a *App) leaseOptions() redisstore.LeaseOptions {
	var logged time.Time // the renewals run on one goroutine
	return redisstore.LeaseOptions{
		TTL:  a.cfg.Rollout.Store.Lease,
		Meta: routingMeta(a.cfg.Routing),
		OnRenewError: func(err error) {
			if time.Since(logged) >= leaseLogEvery {
				logged = time.Now()
				a.log.Warn("rollout.store: lease not renewed, Redis unreachable; clients are still served", "err", err)
			}
		},
	}
}

// heldLease is the store's lease this gateway holds; nil for a store of
// another kind, and for a follower until it takes the store.
func (a *App) heldLease() *redisstore.Lease {
	a.leaseMu.Lock()
	defer a.leaseMu.Unlock()
	return a.lease
}

// setLease records the lease a follower took, for release.
func (a *App) setLease(l *redisstore.Lease) {
	a.leaseMu.Lock()
	defer a.leaseMu.Unlock()
	a.lease = l
}

// leaseOwner names this process in the lease, for the operator of a
// second gateway that is refused. The admin URL it advertises, if any,
// goes before " admin ": gateways of older versions read the listen
// address after it, and the lease's token after the last space, as
// before.
func leaseOwner(adminListen, advertiseURL string) string {
	host, _ := os.Hostname()
	if advertiseURL != "" {
		return fmt.Sprintf("%s pid %d url %s admin %s", host, os.Getpid(), advertiseURL, adminListen)
	}
	return fmt.Sprintf("%s pid %d admin %s", host, os.Getpid(), adminListen)
}

// owner is this gateway's name in the store's lease (leaseOwner).
func (a *App) owner() string {
	return leaseOwner(a.cfg.Admin.Listen, a.cfg.Admin.AdvertiseURL)
}

// storeRole is this gateway's part in a Redis store, for the status; nil
// for the other kinds.
func (a *App) storeRole() *admin.StoreRole {
	if a.cfg.Rollout.Store.Kind != config.StoreRedis || a.opts.Store != nil {
		return nil
	}
	r := &admin.StoreRole{Role: "holder", Holder: a.owner()}
	if a.role.controller() == nil {
		f := a.role.follower()
		r.Role, r.Holder, r.RoutingMismatch = "follower", *f.holder.Load(), *f.mismatch.Load()
	}
	r.HolderAdmin = holderAdmin(r.Holder)
	return r
}

// holderAdmin is the URL of the admin API of owner, a lease owner's
// name (leaseOwner): the one it advertises, else the address it listens
// on; "" when it names none. A gateway that listens on every interface
// is named by its host name.
func holderAdmin(owner string) string {
	host, rest, ok := strings.Cut(owner, " pid ")
	if !ok {
		return ""
	}
	rest, listen, ok := strings.Cut(rest, " admin ")
	if !ok {
		return ""
	}
	if _, adv, ok := strings.Cut(rest, " url "); ok && (strings.HasPrefix(adv, "http://") || strings.HasPrefix(adv, "https://")) {
		return adv
	}
	h, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return ""
	}
	if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
		if host == "" {
			return ""
		}
		h = host
	}
	return "http://" + net.JoinHostPort(h, port)
}
