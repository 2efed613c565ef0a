package kmsapi

import (
	"crypto/rand"
	"encoding/json"
	"strings"
)

// secretMembers never reach CloudTrail: AWS leaves plaintext, ciphertext
// and grant tokens out of requestParameters.
var secretMembers = map[string]bool{"Plaintext": true, "CiphertextBlob": true, "GrantToken": true, "GrantTokens": true}

// requestParameters renders a request for CloudTrail: the members the
// caller set, in lowerCamelCase as CloudTrail writes them, without
// secrets.
func requestParameters(in *request) any {
	b, err := json.Marshal(in)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	out := map[string]json.RawMessage{}
	for k, v := range m {
		if secretMembers[k] || string(v) == "null" {
			continue
		}
		out[lowerCamel(k)] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lowerCamel(s string) string {
	switch {
	case s == "":
		return s
	case strings.HasPrefix(s, "AWS"):
		return "aws" + s[3:]
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}
