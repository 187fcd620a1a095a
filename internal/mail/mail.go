// Package mail sends the portal's email. An email is enqueued as a job in
// the transaction of the change it is about (Queue), and a worker renders it
// and hands it to a Sender: SMTP in production, the development mailbox
// otherwise.
package mail

import (
	"context"
	"errors"
)

// Message is one rendered email.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Link is the message's call-to-action URL, if any. It carries a token:
	// senders never put it anywhere but the bodies, and never log it.
	Link string
}

// Sender delivers a message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidRecipient is returned for an address no retry can deliver to.
var ErrInvalidRecipient = errors.New("mail: invalid recipient address")
