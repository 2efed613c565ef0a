package users

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shelf-efs/shelf/internal/edge"
)

// FuzzServeCall: any form, from the root or from a user without policies,
// gets a well-formed XML answer with a status that matches the outcome,
// never a panic; a user without policies changes nothing.
func FuzzServeCall(f *testing.F) {
	e := newEnv(f)
	svc := NewService(e.s, nil, nil)
	rootID, _, _, err := e.s.EnsureRootAccessKey(e.ctx)
	if err != nil {
		f.Fatal(err)
	}
	root, _, err := e.s.Lookup(e.ctx, rootID)
	if err != nil {
		f.Fatal(err)
	}
	user := edge.Principal{Account: testAccount, ARN: "arn:aws:iam::123456789012:user/x", UserName: "x", UserID: "AIDAX"}
	for _, seed := range []string{
		"Action=CreateUser&Version=2010-05-08&UserName=a&Path=%2Fx%2F",
		"Action=ListUsers&MaxItems=1&Marker=YQ",
		"Action=CreateAccessKey&UserName=a",
		"Action=PutUserPolicy&UserName=a&PolicyName=p&PolicyDocument=%7B%22Statement%22%3A%5B%5D%7D",
		"Action=GetUserPolicy&UserName=a&PolicyName=p",
		"Action=UpdateAccessKey&AccessKeyId=AKIAAAAAAAAAAAAAAAAA&Status=Inactive",
		"Action=DeleteUser&UserName=a",
		"Action=%ff&Version=%00",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, body string, asRoot bool) {
		p := user
		if asRoot {
			p = root
		}
		w := httptest.NewRecorder()
		out := svc.ServeCall(w, httptest.NewRequest("POST", "/", strings.NewReader(body)), []byte(body), &edge.Call{Principal: p, RequestID: "r"})
		if w.Code != out.Status {
			t.Fatalf("status %d written, outcome says %d", w.Code, out.Status)
		}
		if (out.ErrorCode == "") != (w.Code == http.StatusOK) {
			t.Fatalf("status %d with error code %q", w.Code, out.ErrorCode)
		}
		if out.Status == http.StatusInternalServerError {
			t.Fatalf("internal failure for %q: %s", body, out.ErrorMessage)
		}
		var doc struct{ XMLName xml.Name }
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, w.Body.String())
		}
		if !asRoot && out.ErrorCode == "" && !out.ReadOnly {
			t.Fatalf("a user without policies changed something: %q", body)
		}
	})
}
