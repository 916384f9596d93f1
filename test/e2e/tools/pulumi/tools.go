//go:build tools

// Package tools records the Pulumi command build.sh compiles, so that
// `go mod tidy` keeps its dependencies in go.mod/go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
