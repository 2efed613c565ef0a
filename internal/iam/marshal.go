package iam

// MarshalJSON writes p in a canonical compact form: Version, Id, then each
// statement's elements in a fixed order, every list as an array, condition
// values as strings, principal types in the order AWS, CanonicalUser,
// Federated, Service. Parsing the output gives a policy that evaluates the
// same and marshals to the same bytes.
func (p *Policy) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
	}
	if p.version != "" {
		field("Version")
		b = appendJSONString(b, p.version)
	}
	if p.id != "" {
		field("Id")
		b = appendJSONString(b, p.id)
	}
	field("Statement")
	b = append(b, '[')
	for i := range p.statements {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.statements[i].appendJSON(b)
	}
	b = append(b, ']', '}')
	return b, nil
}

func (s *statement) appendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
	}
	if s.sid != "" {
		field("Sid")
		b = appendJSONString(b, s.sid)
	}
	field("Effect")
	if s.allow {
		b = appendJSONString(b, "Allow")
	} else {
		b = appendJSONString(b, "Deny")
	}
	if s.hasPrincipal {
		if s.notPrincipal {
			field("NotPrincipal")
		} else {
			field("Principal")
		}
		b = s.principal.appendJSON(b)
	}
	if s.notAction {
		field("NotAction")
	} else {
		field("Action")
	}
	actions := make([]string, len(s.actions))
	for i, a := range s.actions {
		actions[i] = a.text
	}
	b = appendStrings(b, actions)
	if s.hasResource {
		if s.notResource {
			field("NotResource")
		} else {
			field("Resource")
		}
		res := make([]string, len(s.resources))
		for i := range s.resources {
			res[i] = s.resources[i].text
		}
		b = appendStrings(b, res)
	}
	if len(s.conditions) > 0 {
		field("Condition")
		b = append(b, '{')
		for i := 0; i < len(s.conditions); {
			// Conditions of one operator are adjacent: the parser reads
			// them from one JSON object, whose keys are unique.
			if i > 0 {
				b = append(b, ',')
			}
			op := s.conditions[i].opText
			b = appendJSONString(b, op)
			b = append(b, ':', '{')
			for j := i; j < len(s.conditions) && s.conditions[j].opText == op; j++ {
				c := &s.conditions[j]
				if j > i {
					b = append(b, ',')
				}
				b = appendJSONString(b, c.key)
				b = append(b, ':')
				vals := make([]string, len(c.values))
				for k := range c.values {
					vals[k] = c.values[k].text
				}
				b = appendStrings(b, vals)
				i = j + 1
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func (ps *principalSpec) appendJSON(b []byte) []byte {
	if ps.star {
		return appendJSONString(b, "*")
	}
	b = append(b, '{')
	first := true
	for _, typ := range principalTypes {
		list := *ps.list(typ)
		if len(list) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, typ)
		b = append(b, ':')
		b = appendStrings(b, list)
	}
	return append(b, '}')
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}
