// Command alloy-syntax checks Alloy configuration files with Alloy's own parser and printer
// (github.com/grafana/alloy/syntax v0.1.1: its parser/ and printer/ are the same files as in the
// alloy v1.18.1 tree the chart runs). Each file must parse, and with -fmt it must already be in
// the layout `alloy fmt` writes (the printer's output and a final newline). It checks syntax and
// layout only, not component arguments. The full `alloy` binary cannot be built here: about 90
// of its dependency modules are refused by the Go module proxy (403).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/printer"
)

func main() {
	checkFormat := flag.Bool("fmt", false, "also fail when a file is not formatted as `alloy fmt` would write it")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: alloy-syntax [-fmt] FILE...")
		os.Exit(2)
	}
	failed := false
	for _, name := range flag.Args() {
		if err := check(name, *checkFormat); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func check(name string, checkFormat bool) error {
	src, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	file, err := parser.ParseFile(name, src)
	if err != nil {
		return err
	}
	if !checkFormat {
		return nil
	}
	var out bytes.Buffer
	if err := printer.Fprint(&out, file); err != nil {
		return err
	}
	out.WriteByte('\n')
	if !bytes.Equal(out.Bytes(), src) {
		return fmt.Errorf("not formatted as `alloy fmt` writes it; formatted:\n%s", out.String())
	}
	return nil
}
