//go:build tools

// Package tools records the kwok commands build.sh compiles, so that
// `go mod tidy` keeps their dependencies in go.mod/go.sum.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
