// Command ghosteam-kube runs a real kube-apiserver backed by an embedded etcd on
// 127.0.0.1, the way controller-runtime's envtest runs them: no kubelet,
// scheduler or controller-manager. It is a test peer for ghosteam, never part
// of the product.
//
//	ghosteam-kube --dir DIR --port N --etcd-port N --etcd-peer-port N
//	              [--bind-address IP --service-cluster-ip-range CIDR --node]
//
// With --node it serves the test cluster of `npm run cluster:up` instead: a real node joins it, so
// the ServiceAccount admission plugin and the `kubernetes` Service endpoints are on, and it reaches
// the kubelet (logs, exec) with the admin client certificate. --bind-address is then an address of
// this machine that pods can reach (never loopback, which is the pod's own).
//
// On first use it writes into DIR a CA, the serving certificate, the
// service-account key pair, an admin client certificate (group system:masters)
// and kubeconfig; it keeps them on later runs, so a client that already read the
// kubeconfig keeps working across restarts. etcd data lives in DIR/etcd.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	fs := flag.NewFlagSet("ghosteam-kube", flag.ExitOnError)
	dir := fs.String("dir", "", "state directory (certificates, kubeconfig, etcd data)")
	port := fs.Int("port", 0, "kube-apiserver secure port on 127.0.0.1")
	etcdPort := fs.Int("etcd-port", 0, "embedded etcd client port on 127.0.0.1")
	etcdPeerPort := fs.Int("etcd-peer-port", 0, "embedded etcd peer port on 127.0.0.1")
	verbosity := fs.Int("v", 0, "kube-apiserver log verbosity")
	bind := fs.String("bind-address", "127.0.0.1", "address to serve on (and to advertise)")
	serviceCIDR := fs.String("service-cluster-ip-range", "10.0.0.0/24", "Service ClusterIP range")
	node := fs.Bool("node", false, "serve a cluster with a real node (see the package comment)")
	_ = fs.Parse(os.Args[1:])
	if *dir == "" || *port == 0 || *etcdPort == 0 || *etcdPeerPort == 0 {
		fmt.Fprintln(os.Stderr, "ghosteam-kube: --dir, --port, --etcd-port and --etcd-peer-port are required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fatal(err)
	}
	bindIP := net.ParseIP(*bind)
	if bindIP == nil || bindIP.IsUnspecified() {
		fatal(fmt.Errorf("--bind-address %q: give one IP address of this machine", *bind))
	}
	serviceIP, err := firstServiceIP(*serviceCIDR)
	if err != nil {
		fatal(fmt.Errorf("--service-cluster-ip-range %q: %w", *serviceCIDR, err))
	}
	if err := writePKI(*dir, bindIP, serviceIP, *port); err != nil {
		fatal(fmt.Errorf("writing certificates into %s: %w", *dir, err))
	}
	etcd, etcdURL, err := startEtcd(filepath.Join(*dir, "etcd"), *etcdPort, *etcdPeerPort)
	if err != nil {
		fatal(fmt.Errorf("starting embedded etcd: %w", err))
	}

	p := func(name string) string { return filepath.Join(*dir, name) }
	cmd := app.NewAPIServerCommand()
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + bindIP.String(),
		"--advertise-address=" + bindIP.String(),
		"--secure-port=" + strconv.Itoa(*port),
		"--tls-cert-file=" + p("serving.crt"),
		"--tls-private-key-file=" + p("serving.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--service-account-issuer=https://" + net.JoinHostPort(bindIP.String(), strconv.Itoa(*port)),
		"--service-account-key-file=" + p("sa.pub"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--service-cluster-ip-range=" + *serviceCIDR,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=" + strconv.Itoa(*verbosity),
	}
	if *node {
		args = append(args,
			"--kubelet-client-certificate="+p("admin.crt"),
			"--kubelet-client-key="+p("admin.key"),
			// Dial the kubelet by the node's address: its name would be looked up in this
			// machine's resolver, off the machine.
			"--kubelet-preferred-address-types=InternalIP",
		)
	} else {
		args = append(args,
			// No controller-manager runs, so nothing would create the token a
			// ServiceAccount admission check waits for.
			"--disable-admission-plugins=ServiceAccount",
			// Endpoints may not be loopback addresses, and nothing outside this process needs them.
			"--endpoint-reconciler-type=none",
		)
	}
	cmd.SetArgs(args)
	code := cli.Run(cmd)
	// A clean etcd shutdown leaves a data dir the harness can reuse as a seed.
	etcd.Close()
	os.Exit(code)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "ghosteam-kube:", err)
	os.Exit(1)
}

func startEtcd(dataDir string, clientPort, peerPort int) (*embed.Etcd, string, error) {
	cfg := embed.NewConfig()
	cfg.Name = "ghosteam"
	cfg.Dir = dataDir
	client := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	// The full upstream CRDs (Argo Workflows' are ~1 MiB as JSON) exceed
	// etcd's default 1.5 MiB request limit once managedFields are added.
	cfg.MaxRequestBytes = 16 << 20
	// A test peer: losing the last writes on a machine crash is fine, and
	// skipping fsync keeps etcd from being the bottleneck of every test.
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("etcd was not ready within 60s")
	}
	return e, client.String(), nil
}

// writePKI creates the certificates and keys once; later runs reuse them.
func writePKI(dir string, bind, serviceIP net.IP, port int) error {
	p := func(name string) string { return filepath.Join(dir, name) }
	if _, err := os.Stat(p("kubeconfig")); err == nil {
		return rewriteKubeconfigServer(dir, bind, port)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ghosteam-peers-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	leaf := func(serial int64, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = now
		tmpl.NotAfter = now.Add(10 * 365 * 24 * time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	servDER, servKey, err := leaf(2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), bind, serviceIP},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	})
	if err != nil {
		return err
	}
	adminDER, adminKey, err := leaf(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "ghosteam-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	files["ca.crt"] = pemBlock("CERTIFICATE", caDER)
	files["serving.crt"] = pemBlock("CERTIFICATE", servDER)
	files["admin.crt"] = pemBlock("CERTIFICATE", adminDER)
	for name, key := range map[string]*ecdsa.PrivateKey{"serving.key": servKey, "admin.key": adminKey, "sa.key": saKey} {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		files[name] = pemBlock("EC PRIVATE KEY", der)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	files["sa.pub"] = pemBlock("PUBLIC KEY", saPub)
	for name, data := range files {
		if err := writeAtomic(p(name), data); err != nil {
			return err
		}
	}
	return rewriteKubeconfigServer(dir, bind, port)
}

// firstServiceIP is the ClusterIP of the `kubernetes` Service: the range's first address.
func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip := n.IP.To4()
	if ip == nil {
		return nil, errors.New("only IPv4 ranges are supported here")
	}
	out := make(net.IP, 4)
	copy(out, ip)
	out[3]++
	return out, nil
}

// rewriteKubeconfigServer writes the kubeconfig for the current port, with the
// certificates inlined so the file can be copied alone.
func rewriteKubeconfigServer(dir string, bind net.IP, port int) error {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read("admin.crt")
	if err != nil {
		return err
	}
	key, err := read("admin.key")
	if err != nil {
		return err
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: ghosteam-peers
  cluster:
    server: https://%s
    certificate-authority-data: %s
users:
- name: ghosteam-admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: ghosteam-peers
  context:
    cluster: ghosteam-peers
    user: ghosteam-admin
current-context: ghosteam-peers
`, net.JoinHostPort(bind.String(), strconv.Itoa(port)), ca, crt, key)
	return writeAtomic(filepath.Join(dir, "kubeconfig"), []byte(kc))
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
