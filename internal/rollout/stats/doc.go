// Package stats holds the statistics the rollout gates use to compare green
// with blue: a two-proportion z-test with a confidence interval of the
// difference in error rates, the Mann-Whitney U test on latency samples, a
// seeded bootstrap confidence interval of a quantile difference with a
// non-inferiority check, sample quantiles, and the standard normal
// distribution.
//
// Everything here is pure arithmetic on its arguments: no I/O, no clocks, no
// global state. Functions never panic and never return NaN for finite input;
// degenerate input (empty samples, zero counts, identical values) gives the
// "no evidence" answer (z = 0, p = 1) and is flagged where a caller may care.
//
// Sign convention throughout: differences are green − blue, and the
// one-sided alternative named Greater means "green is larger" (higher error
// rate, slower), which is the direction a rollout gate worries about.
package stats
