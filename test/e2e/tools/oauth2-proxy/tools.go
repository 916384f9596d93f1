//go:build tools

// Package tools pins oauth2-proxy (the SSO gate in front of routed apps) for the e2e suite:
// build.sh builds github.com/oauth2-proxy/oauth2-proxy/v7 from this module. `go install M@V`
// does not work for it here (the proxy refuses the module's version list, which the
// deprecation check needs), a wrapper module does.
package tools

import _ "github.com/oauth2-proxy/oauth2-proxy/v7"
