// ghosteam-oidc: a real OpenID Provider for ghosteam's auth tests, built from zitadel/oidc's `op`
// package (an OpenID Certified implementation) and its in-memory example storage, served over TLS.
// Discovery, JWKS and the token endpoint are the library's. Three things are set here, around the
// example storage: access tokens of the JWT-profile grant are JWTs (not opaque), the scopes
// `ghosteam:*` may be asked for (and are put in the token's `scope` claim), and the signing key (RS256 or ES256, -alg) rotates on
// `POST /ghosteam/rotate`: the new key signs from then on and the previous one stays in the JWKS,
// as a real issuer rotates.
//
//	ghosteam-oidc -addr 127.0.0.1:9443 -issuer https://127.0.0.1:9443/ -cert tls.crt -key tls.key
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type key struct {
	id   string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k *key) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *key) Algorithm() jose.SignatureAlgorithm          { return k.alg }
func (k *key) Key() any                                    { return k.priv }
func (k *key) ID() string                                  { return k.id }
func (k *key) Use() string                                 { return "sig" }

type pub struct{ *key }

func (p pub) Key() any { return p.priv.Public() }

type store struct {
	*storage.Storage
	mu   sync.Mutex
	alg  jose.SignatureAlgorithm
	keys []*key // newest last; the newest signs
	n    int
}

func (s *store) rotate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	var priv crypto.Signer
	var err error
	if s.alg == jose.ES256 {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		log.Fatal(err)
	}
	k := &key{id: fmt.Sprintf("ghosteam-%s-%d", strings.ToLower(string(s.alg)), s.n), alg: s.alg, priv: priv}
	s.keys = append(s.keys, k)
	if len(s.keys) > 2 {
		s.keys = s.keys[len(s.keys)-2:]
	}
	return k.id
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.alg}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, pub{k})
	}
	return out, nil
}

// JWTProfileTokenType: the JWT-profile grant returns JWT access tokens.
func (s *store) JWTProfileTokenType(context.Context, op.TokenRequest) (op.AccessTokenType, error) {
	return op.AccessTokenTypeJWT, nil
}

// ValidateJWTProfileScopes keeps openid and the ghosteam:* scopes the service asks for.
func (s *store) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	out := []string{}
	for _, sc := range scopes {
		if sc == "openid" || strings.HasPrefix(sc, "ghosteam:") {
			out = append(out, sc)
		}
	}
	return out, nil
}

// GetPrivateClaimsFromScopes puts the granted ghosteam:* scopes in the access token's `scope`
// claim, as Keycloak, Auth0 and Okta do, so a resource server can authorize by scope.
func (s *store) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	kept := []string{}
	for _, sc := range scopes {
		if strings.HasPrefix(sc, "ghosteam:") {
			kept = append(kept, sc)
		}
	}
	if len(kept) > 0 {
		claims["scope"] = strings.Join(kept, " ")
	}
	return claims, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9443", "listen address")
	issuer := flag.String("issuer", "", "issuer URL (https://HOST:PORT/)")
	cert := flag.String("cert", "", "PEM certificate")
	keyFile := flag.String("key", "", "PEM private key")
	alg := flag.String("alg", "RS256", "signing algorithm: RS256 or ES256")
	flag.Parse()
	if *issuer == "" || *cert == "" || *keyFile == "" {
		log.Fatal("-issuer, -cert and -key are required")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := &store{Storage: storage.NewStorage(storage.NewUserStore(*issuer)), alg: jose.SignatureAlgorithm(*alg)}
	if s.alg != jose.RS256 && s.alg != jose.ES256 {
		log.Fatalf("-alg %s: use RS256 or ES256", *alg)
	}
	s.rotate()
	router := exampleop.SetupServer(*issuer, s, logger, false)
	router.Post("/ghosteam/rotate", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "{\"kid\":%q}\n", s.rotate())
	})
	server := &http.Server{Addr: *addr, Handler: router}
	logger.Info("listening", "issuer", *issuer, "addr", *addr, "alg", *alg)
	if err := server.ListenAndServeTLS(*cert, *keyFile); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
