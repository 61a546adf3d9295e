// Command ghosteam-pause is the pod sandbox ("pause") process of the ghosteam test cluster: it
// holds the pod's namespaces, reaps any child it inherits, and exits on SIGINT or SIGTERM. The
// upstream pause image cannot be pulled here (no Docker Hub), so `npm run cluster:up` builds this
// statically and imports it into containerd as the sandbox image. A test peer, never the product.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
