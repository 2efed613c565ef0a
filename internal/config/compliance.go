package config

import (
	"net/url"
	"time"
)

// Compliance configures the AWS Config-style rules: how often every rule
// is evaluated over every resource (besides on every change), and the
// webhooks that receive compliance-change alerts.
type Compliance struct {
	// EvaluationInterval is a Go duration such as 1h or 30m; 0 means the
	// default (1h).
	EvaluationInterval time.Duration `yaml:"evaluation_interval"`
	// Webhooks receive a signed POST whenever a resource turns
	// NON_COMPLIANT under a rule, or back.
	Webhooks []Webhook `yaml:"webhooks"`
}

// Webhook is one alert endpoint.
type Webhook struct {
	// URL is an http or https URL.
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature of every notification (at
	// least 16 characters).
	Secret string `yaml:"secret"`
}

// Limits of the compliance configuration.
const (
	MaxWebhooks           = 10
	MinWebhookSecretChars = 16
	MinEvaluationInterval = time.Second
	maxWebhookURLChars    = 2048
)

func (c *Config) validateCompliance(bad func(format string, args ...any)) {
	if iv := c.Compliance.EvaluationInterval; iv != 0 && iv < MinEvaluationInterval {
		bad("compliance.evaluation_interval %s must be at least %s (or 0 for the default)", iv, MinEvaluationInterval)
	}
	if len(c.Compliance.Webhooks) > MaxWebhooks {
		bad("compliance.webhooks has %d entries; at most %d are allowed", len(c.Compliance.Webhooks), MaxWebhooks)
	}
	seen := map[string]int{}
	for i, w := range c.Compliance.Webhooks {
		u, err := url.Parse(w.URL)
		switch {
		case len(w.URL) > maxWebhookURLChars:
			bad("compliance.webhooks[%d].url is longer than %d characters", i, maxWebhookURLChars)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			// The URL may carry a token: never echo it.
			bad("compliance.webhooks[%d].url is not an http or https URL", i)
		}
		if j, dup := seen[w.URL]; dup {
			bad("compliance.webhooks[%d].url is also compliance.webhooks[%d].url", i, j)
		} else {
			seen[w.URL] = i
		}
		if len(w.Secret) < MinWebhookSecretChars {
			bad("compliance.webhooks[%d].secret must be at least %d characters", i, MinWebhookSecretChars)
		}
	}
}
