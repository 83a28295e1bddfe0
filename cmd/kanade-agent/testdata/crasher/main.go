// Command crasher stands for a broken agent release: it exits at once,
// before any of the agent's code could run (the self-update tests).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crasher: this release is broken")
	os.Exit(3)
}
