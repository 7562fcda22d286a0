# Targets call small scripts under scripts/ so CI and people run the same thing.
.PHONY: test test-js lint fmt bench bench-gateway fuzz

test:
	bash scripts/test.sh

test-js:
	bash scripts/test-js.sh

lint:
	bash scripts/lint.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	bash scripts/bench.sh

bench-gateway:
	bash scripts/bench-gateway.sh

fuzz:
	bash scripts/fuzz.sh
