// Command ghosteam-node runs the node half of the ghosteam test cluster (`npm run cluster:up`):
// the kubelet, kube-controller-manager, kube-scheduler and kube-proxy, built from the same
// Kubernetes Go modules (and so the same Go build cache) as ghosteam-kube. It is a test peer for
// ghosteam, never part of the product.
//
//	ghosteam-node kubelet|controller-manager|scheduler|proxy [upstream flags...]
//
// One binary for the four keeps the link step and the cache entry single; each subcommand is the
// upstream command unchanged (the same cobra command the upstream main packages run).
package main

import (
	"context"
	"fmt"
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream kube-controller-manager

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	commands := map[string]func() *cobra.Command{
		"kubelet":            func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
		"controller-manager": controllermanager.NewControllerManagerCommand,
		"scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
		"proxy":              proxy.NewProxyCommand,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: ghosteam-node kubelet|controller-manager|scheduler|proxy [flags...]")
		os.Exit(2)
	}
	cmd := commands[os.Args[1]]()
	cmd.SetArgs(os.Args[2:])
	os.Exit(cli.Run(cmd))
}
