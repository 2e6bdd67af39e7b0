// Package webhook is the transport half of signed webhooks as the Standard
// Webhooks specification (https://www.standardwebhooks.com/) describes them:
// secrets and signatures, a guard that keeps deliveries away from internal
// networks, and an HTTP client that delivers one message and reports what
// happened. It knows nothing of databases, queues or retries; callers decide
// what to send, when, and what a Result means for them.
package webhook
