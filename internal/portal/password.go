package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns the encoded argon2id hash of password, with its
// parameters and a fresh salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("portal: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummyHash is compared against when a login names an unknown user, so that
// the response takes as long as for a known one.
var dummyHash, _ = HashPassword("not-a-real-password-only-for-timing")

// CheckPasswordHash reports whether password matches encoded. An empty or
// malformed hash never matches, but still costs one hash computation.
func CheckPasswordHash(encoded, password string) bool {
	ok, err := comparePassword(encoded, password)
	if err != nil {
		_, _ = comparePassword(dummyHash, password)
		return false
	}
	return ok
}

// passwordChecks counts argon2id computations made to check a password.
var passwordChecks atomic.Int64

// PasswordChecks returns how many password hashes have been computed to
// check a password, so tests (and metrics) can see that a sign-in costs the
// same work whether or not the user exists.
func PasswordChecks() int64 { return passwordChecks.Load() }

func comparePassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("portal: unknown hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("portal: bad hash version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false, fmt.Errorf("portal: bad hash parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, fmt.Errorf("portal: bad hash")
	}
	passwordChecks.Add(1)
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyPasswordCheck spends the time of one password check, for code paths
// that have no user to check against.
func DummyPasswordCheck(password string) { _, _ = comparePassword(dummyHash, password) }
