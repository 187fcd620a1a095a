package mail

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"carrierportal/internal/portal"
	"carrierportal/web/email"
)

// QueueName is the job queue emails travel on.
const QueueName = "email"

// EmailArgs is the job that sends one email. The link is sealed because it
// usually carries a token: whoever can read the jobs table must not be able
// to use it.
type EmailArgs struct {
	Template   string            `json:"template"`
	To         string            `json:"to"`
	Vars       map[string]string `json:"vars,omitempty"`
	SealedLink string            `json:"sealed_link,omitempty"`
}

// Kind names the job.
func (EmailArgs) Kind() string { return "email" }

// InsertOpts puts email jobs on their own queue; at the worker's backoff,
// 25 attempts keep trying for about three hours.
func (EmailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, MaxAttempts: 25}
}

// KeyFromSecret derives the link-sealing key from the application secret.
func KeyFromSecret(secret string) [32]byte {
	return sha256.Sum256([]byte("email-link:" + secret))
}

// Queue enqueues emails as jobs in the caller's transaction; it is the
// store's outbox.
type Queue struct {
	client *river.Client[pgx.Tx]
	key    [32]byte
}

// NewQueue returns an outbox that inserts through client and seals links
// with key.
func NewQueue(client *river.Client[pgx.Tx], key [32]byte) *Queue {
	return &Queue{client: client, key: key}
}

// EnqueueTx inserts the job for e in tx: it exists if and only if tx
// commits.
func (q *Queue) EnqueueTx(ctx context.Context, tx pgx.Tx, e portal.Email) error {
	if e.To == "" {
		return errors.New("mail: enqueue: no recipient")
	}
	if !email.Known(e.Template) {
		return fmt.Errorf("mail: enqueue: unknown template %q", e.Template)
	}
	sealed, err := seal(q.key, e.Template, e.To, e.Link)
	if err != nil {
		return err
	}
	args := EmailArgs{Template: e.Template, To: e.To, Vars: e.Vars, SealedLink: sealed}
	if _, err := q.client.InsertTx(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	return nil
}

// seal encrypts a link with AES-256-GCM under a random nonce. The template
// and recipient are authenticated with it, so a sealed link copied into
// another job does not open.
func seal(key [32]byte, template, to, link string) (string, error) {
	if link == "" {
		return "", nil
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	out := aead.Seal(nil, nil, []byte(link), sealAD(template, to))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// unseal reverses seal.
func unseal(key [32]byte, template, to, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("mail: sealed link: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	link, err := aead.Open(nil, nil, b, sealAD(template, to))
	if err != nil {
		return "", fmt.Errorf("mail: sealed link: %w", err)
	}
	return string(link), nil
}

func newAEAD(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("mail: cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("mail: cipher: %w", err)
	}
	return aead, nil
}

func sealAD(template, to string) []byte {
	return []byte("email-link\x00" + template + "\x00" + to)
}
