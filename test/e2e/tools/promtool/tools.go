//go:build tools

// Package tools pins promtool (Prometheus' rule checker and rule unit-test
// runner) for the e2e suite and the rules unit test: build.sh builds
// github.com/prometheus/prometheus/cmd/promtool from this module. `go install
// M@V` refuses the module because its go.mod has a replace directive; a
// wrapper module that repeats the replace builds exactly the pinned version.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
