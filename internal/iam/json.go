package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth bounds nesting. The deepest valid policy is
// document{Statement[{Condition{operator{key[value]}}}]}: six levels.
const maxJSONDepth = 8

type jsonKind uint8

const (
	jsonString jsonKind = iota + 1
	jsonNumber
	jsonBool
	jsonNull
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonString:
		return "a string"
	case jsonNumber:
		return "a number"
	case jsonBool:
		return "a boolean"
	case jsonNull:
		return "null"
	case jsonArray:
		return "an array"
	case jsonObject:
		return "an object"
	}
	return "nothing"
}

// jsonValue is a decoded JSON value that keeps object members in document
// order, so that the policy parser can reject duplicate keys (IAM does;
// encoding/json keeps the last one silently) and name fields in errors.
type jsonValue struct {
	kind jsonKind
	str  string // string value, or the literal text of a number
	b    bool
	arr  []jsonValue
	obj  []jsonMember
}

type jsonMember struct {
	key string
	val jsonValue
}

// decodeJSON decodes one JSON document: a single value and nothing after it
// but whitespace. Duplicate keys in an object are an error.
func decodeJSON(doc []byte) (jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return jsonValue{}, malformedf("syntax error: the document ends before the JSON value does")
		}
		return jsonValue{}, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonValue{}, syntaxError(err)
		}
		return jsonValue{}, malformedf("syntax error: unexpected %v after the policy document", tok)
	}
	return v, nil
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformedf("syntax error at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformedf("syntax error: the document ends before the JSON value does")
	}
	return malformedf("syntax error: %s", err.Error())
}

func readJSON(dec *json.Decoder, depth int) (jsonValue, error) {
	if depth > maxJSONDepth {
		return jsonValue{}, malformedf("the document is nested more than %d levels deep", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return jsonValue{}, err
		}
		return jsonValue{}, syntaxError(err)
	}
	switch t := tok.(type) {
	case string:
		return jsonValue{kind: jsonString, str: t}, nil
	case json.Number:
		return jsonValue{kind: jsonNumber, str: t.String()}, nil
	case bool:
		return jsonValue{kind: jsonBool, b: t}, nil
	case nil:
		return jsonValue{kind: jsonNull}, nil
	case json.Delim:
		switch t {
		case '[':
			v := jsonValue{kind: jsonArray}
			for dec.More() {
				e, err := readJSON(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return jsonValue{}, syntaxError(err)
			}
			return v, nil
		case '{':
			v := jsonValue{kind: jsonObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jsonValue{}, syntaxError(err)
				}
				key, ok := kt.(string)
				if !ok {
					return jsonValue{}, malformedf("syntax error: object key %v is not a string", kt)
				}
				if seen[key] {
					return jsonValue{}, malformedf("duplicate key %q in a JSON object", key)
				}
				seen[key] = true
				e, err := readJSON(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				v.obj = append(v.obj, jsonMember{key: key, val: e})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return jsonValue{}, syntaxError(err)
			}
			return v, nil
		}
	}
	return jsonValue{}, malformedf("syntax error: unexpected %v", fmt.Sprint(tok))
}

// appendJSONString appends s as a JSON string, without the HTML escaping of
// encoding/json's default.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
