// pause is the sandbox process of a pod on the e2e node (what registry.k8s.io/pause is for
// a real cluster, whose image we cannot pull here): it holds the pod's namespaces open,
// reaps the orphans re-parented to it when it runs as PID 1, and exits 0 on SIGINT or
// SIGTERM. Static (CGO_ENABLED=0), standard library only.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (msrp-k8s e2e)")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
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
