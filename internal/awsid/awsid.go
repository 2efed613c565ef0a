// Package awsid checks the syntax of AWS identifiers that several packages
// accept: account IDs, region names and resource IDs. It imports nothing of
// shelf.
package awsid

import "strings"

// ValidAccount reports whether s is a 12-digit account ID.
func ValidAccount(s string) bool {
	return len(s) == 12 && digits(s)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidRegion accepts region names like us-east-1, eu-central-2,
// us-gov-west-1 or local-1: lower-case letters, digits and single inner
// hyphens, at most 32 bytes.
func ValidRegion(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// ValidResource reports whether s is prefix followed by 8 or 17 lower-case
// hex digits, the two forms of AWS resource IDs (fs-, fsmt-, vpc-, …).
func ValidResource(s, prefix string) bool {
	hex, ok := strings.CutPrefix(s, prefix)
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
