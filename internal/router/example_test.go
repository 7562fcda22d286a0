package router_test

import (
	"fmt"

	"github.com/baton-rt/baton/internal/router"
)

func Example() {
	tbl, err := router.NewTable("baton", 0, []string{"tester"}, nil)
	if err != nil {
		panic(err)
	}
	r := router.New(tbl)
	fmt.Println("alice bucket:", r.Table().Bucket("alice"))

	w, _ := router.ParseWeight("55%")
	prev, next, _ := r.Set(w)
	for _, user := range []string{"alice", "bob", "tester"} {
		to, moved := router.Move(prev, next, user)
		fmt.Printf("%s: %v (moved %v)\n", user, to, moved)
	}
	// Output:
	// alice bucket: 5811
	// alice: blue (moved false)
	// bob: green (moved true)
	// tester: green (moved false)
}
