package iam

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	acct   = "111122223333"
	other  = "444455556666"
	fsARN  = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0"
	apARN  = "arn:aws:elasticfilesystem:us-east-1:111122223333:access-point/fsap-0123456789abcdef0"
	alice  = "arn:aws:iam::111122223333:user/eng/alice"
	bob    = "arn:aws:iam::111122223333:user/bob"
	carol  = "arn:aws:iam::444455556666:user/carol"
	rootAR = "arn:aws:iam::111122223333:root"
)

var (
	pAlice = Principal{ARN: alice, Account: acct}
	pBob   = Principal{ARN: bob, Account: acct}
	pCarol = Principal{ARN: carol} // account from the ARN
	pRoot  = Principal{ARN: rootAR, Account: acct, IsRoot: true}
	pAnon  = Principal{Anonymous: true}
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	require.NoError(t, err)
	return p
}

func mustParseResource(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := ParseResourcePolicy([]byte(doc))
	require.NoError(t, err)
	return p
}

func TestActionAndResourceMatching(t *testing.T) {
	tests := []struct {
		name     string
		stmt     string // Action/Resource part of an Allow statement
		action   string
		resource string
		want     Decision
	}{
		{"exact", `"Action":"elasticfilesystem:DescribeFileSystems","Resource":"*"`, "elasticfilesystem:DescribeFileSystems", fsARN, Allow},
		{"action case-insensitive", `"Action":"ElasticFileSystem:describefilesystems","Resource":"*"`, "elasticfilesystem:DescribeFileSystems", fsARN, Allow},
		{"action star", `"Action":"elasticfilesystem:Describe*","Resource":"*"`, "elasticfilesystem:DescribeMountTargets", fsARN, Allow},
		{"action star other", `"Action":"elasticfilesystem:Describe*","Resource":"*"`, "elasticfilesystem:DeleteFileSystem", fsARN, ImplicitDeny},
		{"action infix star", `"Action":"iam:*AccessKey*","Resource":"*"`, "iam:CreateAccessKey", fsARN, Allow},
		{"action qmark", `"Action":"elasticfilesystem:Client?ount","Resource":"*"`, "elasticfilesystem:ClientMount", fsARN, Allow},
		{"action qmark too short", `"Action":"elasticfilesystem:Client?","Resource":"*"`, "elasticfilesystem:ClientMount", fsARN, ImplicitDeny},
		{"action all", `"Action":"*","Resource":"*"`, "kms:Decrypt", fsARN, Allow},
		{"action other service", `"Action":"elasticfilesystem:*","Resource":"*"`, "kms:Decrypt", fsARN, ImplicitDeny},
		{"action list", `"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"`, "kms:Decrypt", fsARN, Allow},
		{"NotAction excludes", `"NotAction":"elasticfilesystem:Delete*","Resource":"*"`, "elasticfilesystem:DeleteFileSystem", fsARN, ImplicitDeny},
		{"NotAction includes others", `"NotAction":"elasticfilesystem:Delete*","Resource":"*"`, "elasticfilesystem:CreateFileSystem", fsARN, Allow},
		{"NotAction list", `"NotAction":["kms:*","iam:*"],"Resource":"*"`, "iam:CreateUser", fsARN, ImplicitDeny},
		{"resource exact", `"Action":"*","Resource":"` + fsARN + `"`, "elasticfilesystem:DescribeFileSystems", fsARN, Allow},
		{"resource other", `"Action":"*","Resource":"` + fsARN + `"`, "elasticfilesystem:DescribeFileSystems", apARN, ImplicitDeny},
		{"resource star spans colons", `"Action":"*","Resource":"arn:aws:elasticfilesystem:*"`, "x:y", fsARN, Allow},
		{"resource case-sensitive", `"Action":"*","Resource":"arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/FS-*"`, "x:y", fsARN, ImplicitDeny},
		{"resource qmark", `"Action":"*","Resource":"arn:aws:elasticfilesystem:us-east-?:111122223333:file-system/*"`, "x:y", fsARN, Allow},
		{"resource list", `"Action":"*","Resource":["arn:aws:s3:::b","` + apARN + `"]`, "x:y", apARN, Allow},
		{"NotResource excludes", `"Action":"*","NotResource":"arn:aws:elasticfilesystem:*:*:file-system/*"`, "x:y", fsARN, ImplicitDeny},
		{"NotResource includes others", `"Action":"*","NotResource":"arn:aws:elasticfilesystem:*:*:file-system/*"`, "x:y", apARN, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow",`+tt.stmt+`}}`)
			got := Decide(Request{Principal: pAlice, Action: tt.action, Resource: tt.resource}, []*Policy{p}, nil)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestResourceVariables(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}`
	p := mustParse(t, doc)
	req := func(pr Principal, res string, ctx map[string][]string) Request {
		return Request{Principal: pr, Action: "s3:GetObject", Resource: res, Conditions: ctx}
	}
	require.Equal(t, Allow, p.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/alice/x", nil)), "aws:username derived from the user ARN")
	require.Equal(t, ImplicitDeny, p.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/bob/x", nil)))
	require.Equal(t, Allow, p.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/al/x", map[string][]string{"AWS:USERNAME": {"al"}})), "given keys win, names case-insensitive")
	require.Equal(t, ImplicitDeny, p.Evaluate(req(pRoot, "arn:aws:s3:::bucket/home//x", nil)), "the root has no user name: statement invalid")
	// The substituted value is literal.
	require.Equal(t, ImplicitDeny, p.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/bob/x", map[string][]string{"aws:username": {"*"}})))
	require.Equal(t, Allow, p.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/*/x", map[string][]string{"aws:username": {"*"}})))

	// 2008: literal.
	p08 := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}`)
	require.Equal(t, ImplicitDeny, p08.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/alice/x", nil)))
	require.Equal(t, Allow, p08.Evaluate(req(pAlice, "arn:aws:s3:::bucket/home/${aws:username}/x", nil)))

	// An unresolved variable in a Deny invalidates that statement too.
	deny := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::bucket/${aws:userid}/*"}]}`)
	require.Equal(t, Allow, deny.Evaluate(req(pAlice, "arn:aws:s3:::other", nil)))
	require.Equal(t, ExplicitDeny, deny.Evaluate(req(pAlice, "arn:aws:s3:::other", map[string][]string{"aws:userid": {"AIDAEXAMPLE"}})))
	require.Equal(t, Allow, deny.Evaluate(req(pAlice, "arn:aws:s3:::bucket/AIDAEXAMPLE/k", map[string][]string{"aws:userid": {"AIDAEXAMPLE"}})))

	// Special characters in a resource.
	lit := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}${?}${$}"}}`)
	require.Equal(t, Allow, lit.Evaluate(req(pAlice, "arn:aws:s3:::b/*?$", nil)))
	require.Equal(t, ImplicitDeny, lit.Evaluate(req(pAlice, "arn:aws:s3:::b/xy$", nil)))
}

func TestPrincipalMatching(t *testing.T) {
	allowTo := func(principal string) *Policy {
		return mustParseResource(t, `{"Statement":{"Effect":"Allow","Principal":`+principal+`,"Action":"elasticfilesystem:Client*"}}`)
	}
	denyTo := func(principal string) *Policy {
		return mustParseResource(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:Client*"},
			{"Effect":"Deny","Principal":`+principal+`,"Action":"elasticfilesystem:Client*"}]}`)
	}
	allowNot := func(principal string) *Policy {
		return mustParseResource(t, `{"Statement":{"Effect":"Allow","NotPrincipal":`+principal+`,"Action":"elasticfilesystem:Client*"}}`)
	}
	denyNot := func(principal string) *Policy {
		return mustParseResource(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:Client*"},
			{"Effect":"Deny","NotPrincipal":`+principal+`,"Action":"elasticfilesystem:Client*"}]}`)
	}
	tests := []struct {
		name   string
		policy *Policy
		who    Principal
		want   Decision
	}{
		{"star allows anonymous", allowTo(`"*"`), pAnon, Allow},
		{"AWS star allows anonymous", allowTo(`{"AWS":"*"}`), pAnon, Allow},
		{"AWS star allows user", allowTo(`{"AWS":"*"}`), pAlice, Allow},
		{"user ARN allows user", allowTo(`{"AWS":"` + alice + `"}`), pAlice, Allow},
		{"user ARN not other user", allowTo(`{"AWS":"` + alice + `"}`), pBob, ImplicitDeny},
		{"user ARN not anonymous", allowTo(`{"AWS":"` + alice + `"}`), pAnon, ImplicitDeny},
		{"user ARN list", allowTo(`{"AWS":["` + carol + `","` + bob + `"]}`), pBob, Allow},
		{"account ID allows root", allowTo(`{"AWS":"` + acct + `"}`), pRoot, Allow},
		{"account ID delegates for users", allowTo(`{"AWS":"` + acct + `"}`), pAlice, ImplicitDeny},
		{"account root ARN delegates for users", allowTo(`{"AWS":"` + rootAR + `"}`), pAlice, ImplicitDeny},
		{"other account not matched", allowTo(`{"AWS":"` + other + `"}`), pAnon, ImplicitDeny},
		{"service principal matches no caller", allowTo(`{"Service":"backup.amazonaws.com"}`), pAlice, ImplicitDeny},
		{"deny star denies anonymous", denyTo(`"*"`), pAnon, ExplicitDeny},
		{"deny user", denyTo(`{"AWS":"` + alice + `"}`), pAlice, ExplicitDeny},
		{"deny user spares other", denyTo(`{"AWS":"` + alice + `"}`), pBob, Allow},
		{"deny account denies its users", denyTo(`{"AWS":"` + acct + `"}`), pAlice, ExplicitDeny},
		{"deny account spares other accounts", denyTo(`{"AWS":"` + acct + `"}`), pCarol, Allow},
		{"deny account spares anonymous", denyTo(`{"AWS":"` + acct + `"}`), pAnon, Allow},
		{"NotPrincipal allow: others allowed", allowNot(`{"AWS":"` + alice + `"}`), pBob, Allow},
		{"NotPrincipal allow: anonymous allowed", allowNot(`{"AWS":"` + alice + `"}`), pAnon, Allow},
		{"NotPrincipal allow: listed excluded", allowNot(`{"AWS":"` + alice + `"}`), pAlice, ImplicitDeny},
		{"NotPrincipal allow: account excludes its users", allowNot(`{"AWS":"` + acct + `"}`), pAlice, ImplicitDeny},
		{"NotPrincipal allow: star excludes all", allowNot(`"*"`), pAnon, ImplicitDeny},
		{"NotPrincipal deny: user and account listed", denyNot(`{"AWS":["` + alice + `","` + rootAR + `"]}`), pAlice, Allow},
		{"NotPrincipal deny: only user listed", denyNot(`{"AWS":"` + alice + `"}`), pAlice, ExplicitDeny},
		{"NotPrincipal deny: others denied", denyNot(`{"AWS":["` + alice + `","` + rootAR + `"]}`), pBob, ExplicitDeny},
		{"NotPrincipal deny: anonymous denied", denyNot(`{"AWS":["` + alice + `","` + rootAR + `"]}`), pAnon, ExplicitDeny},
		{"NotPrincipal deny: root spared by account", denyNot(`{"AWS":"` + acct + `"}`), pRoot, Allow},
		{"NotPrincipal deny: star spares everyone", denyNot(`{"AWS":"*"}`), pAnon, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Request{Principal: tt.who, Action: ActionClientMount, Resource: fsARN}, nil, tt.policy)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecide(t *testing.T) {
	allowAll := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"elasticfilesystem:*","Resource":"*"}}`)
	denyDelete := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"elasticfilesystem:Delete*","Resource":"*"}}`)
	fsAllowBob := mustParseResource(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"`+bob+`"},"Action":"elasticfilesystem:*","Resource":"`+fsARN+`"}}`)
	fsDenyDelete := mustParseResource(t, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"elasticfilesystem:DeleteFileSystem"}}`)
	fsDenyInsecure := mustParseResource(t, `{"Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`)
	identityNoResource := mustParseResource(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`)

	req := func(p Principal, action string) Request {
		return Request{Principal: p, Action: action, Resource: fsARN, Conditions: map[string][]string{"aws:SecureTransport": {"true"}}}
	}
	tests := []struct {
		name     string
		req      Request
		identity []*Policy
		resource *Policy
		want     Decision
	}{
		{"no policies: implicit deny", req(pAlice, "elasticfilesystem:DescribeFileSystems"), nil, nil, ImplicitDeny},
		{"identity allow", req(pAlice, "elasticfilesystem:DescribeFileSystems"), []*Policy{allowAll}, nil, Allow},
		{"identity deny wins over identity allow", req(pAlice, "elasticfilesystem:DeleteFileSystem"), []*Policy{allowAll, denyDelete}, nil, ExplicitDeny},
		{"deny order does not matter", req(pAlice, "elasticfilesystem:DeleteFileSystem"), []*Policy{denyDelete, allowAll}, nil, ExplicitDeny},
		{"nil identity entries skipped", req(pAlice, "elasticfilesystem:CreateFileSystem"), []*Policy{nil, allowAll}, nil, Allow},
		{"resource allow alone suffices (same account)", req(pBob, "elasticfilesystem:DeleteFileSystem"), nil, fsAllowBob, Allow},
		{"resource allow names someone else", req(pAlice, "elasticfilesystem:DeleteFileSystem"), nil, fsAllowBob, ImplicitDeny},
		{"resource deny wins over identity allow", req(pAlice, "elasticfilesystem:DeleteFileSystem"), []*Policy{allowAll}, fsDenyDelete, ExplicitDeny},
		{"identity deny wins over resource allow", req(pBob, "elasticfilesystem:DeleteFileSystem"), []*Policy{denyDelete}, fsAllowBob, ExplicitDeny},
		{"root bypasses identity policies", req(pRoot, "elasticfilesystem:DeleteFileSystem"), nil, nil, Allow},
		{"root ignores identity deny", req(pRoot, "elasticfilesystem:DeleteFileSystem"), []*Policy{denyDelete}, nil, Allow},
		{"root denied by resource policy", req(pRoot, "elasticfilesystem:DeleteFileSystem"), nil, fsDenyDelete, ExplicitDeny},
		{"anonymous ignores identity policies", req(pAnon, "elasticfilesystem:ClientMount"), []*Policy{allowAll}, nil, ImplicitDeny},
		{"anonymous with root flag stays anonymous", req(Principal{Anonymous: true, IsRoot: true, ARN: rootAR}, "elasticfilesystem:ClientMount"), nil, nil, ImplicitDeny},
		{"empty principal is anonymous", req(Principal{}, "elasticfilesystem:ClientMount"), []*Policy{allowAll}, nil, ImplicitDeny},
		{"resource statements without principal apply to no one", req(pAlice, "elasticfilesystem:ClientMount"), nil, mustParseWithKind(t, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, IdentityPolicy), ImplicitDeny},
		{"resource-kind policy as identity checks principals", req(pAlice, "elasticfilesystem:ClientMount"), []*Policy{identityNoResource}, nil, Allow},
		{"condition deny on insecure transport", Request{Principal: pAlice, Action: ActionClientWrite, Resource: fsARN, Conditions: map[string][]string{"aws:securetransport": {"false"}}}, []*Policy{allowAll}, fsDenyInsecure, ExplicitDeny},
		{"condition deny spared on TLS", req(pAlice, ActionClientWrite), []*Policy{allowAll}, fsDenyInsecure, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.req, tt.identity, tt.resource)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want == Allow, Allows(got))
			require.Equal(t, tt.want == Allow, got.Allowed())
		})
	}
	require.Equal(t, "Allow", Allow.String())
	require.Equal(t, "ExplicitDeny", ExplicitDeny.String())
	require.Equal(t, "ImplicitDeny", ImplicitDeny.String())
	require.Equal(t, "Decision(7)", Decision(7).String())
	require.Equal(t, ImplicitDeny, Decision(0))
}

func mustParseWithKind(t testing.TB, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := ParseWith([]byte(doc), Options{Kind: kind})
	require.NoError(t, err)
	return p
}

func TestDefaultFileSystemPolicy(t *testing.T) {
	p, err := ParseWith([]byte(DefaultFileSystemPolicy), FileSystemPolicyOptions)
	require.NoError(t, err)
	viaMT := map[string][]string{KeyAccessedViaMountTarget: {"true"}}
	for _, who := range []Principal{pAnon, pAlice, pCarol, pRoot} {
		for _, action := range []string{ActionClientMount, ActionClientWrite, ActionClientRootAccess} {
			require.Equal(t, Allow, Decide(Request{Principal: who, Action: action, Resource: fsARN, Conditions: viaMT}, nil, p), "%v %s", who, action)
		}
		if !who.IsRoot { // the root is allowed unless explicitly denied
			require.Equal(t, ImplicitDeny, Decide(Request{Principal: who, Action: ActionClientMount, Resource: fsARN}, nil, p), "not via a mount target")
		}
	}
	require.Equal(t, ImplicitDeny, Decide(Request{Principal: pAnon, Action: "elasticfilesystem:DeleteFileSystem", Resource: fsARN, Conditions: viaMT}, nil, p))
}

// TestNFSRecipes runs the file-system policies of the EFS User Guide.
func TestNFSRecipes(t *testing.T) {
	ctx := func(tls bool) map[string][]string {
		v := "false"
		if tls {
			v = "true"
		}
		return map[string][]string{KeyAccessedViaMountTarget: {"true"}, KeySecureTransport: {v}, KeySourceIP: {"127.0.1.20"}}
	}
	t.Run("root squashing: no ClientRootAccess", func(t *testing.T) {
		p := mustParseResource(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},
			"Action":["elasticfilesystem:ClientWrite","elasticfilesystem:ClientMount"],
			"Condition":{"Bool":{"elasticfilesystem:AccessedViaMountTarget":"true"}}}]}`)
		require.Equal(t, Allow, Decide(Request{Principal: pAnon, Action: ActionClientWrite, Resource: fsARN, Conditions: ctx(false)}, nil, p))
		require.Equal(t, ImplicitDeny, Decide(Request{Principal: pAnon, Action: ActionClientRootAccess, Resource: fsARN, Conditions: ctx(false)}, nil, p))
		// An identity policy grants it back to one principal.
		full := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"elasticfilesystem:Client*","Resource":"*"}}`)
		require.Equal(t, Allow, Decide(Request{Principal: pAlice, Action: ActionClientRootAccess, Resource: fsARN, Conditions: ctx(true)}, []*Policy{full}, p))
	})
	t.Run("enforce in-transit encryption", func(t *testing.T) {
		p := mustParseResource(t, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["elasticfilesystem:ClientRootAccess","elasticfilesystem:ClientWrite","elasticfilesystem:ClientMount"],
			 "Condition":{"Bool":{"elasticfilesystem:AccessedViaMountTarget":"true"}}},
			{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
		require.Equal(t, ExplicitDeny, Decide(Request{Principal: pAnon, Action: ActionClientMount, Resource: fsARN, Conditions: ctx(false)}, nil, p))
		require.Equal(t, Allow, Decide(Request{Principal: pAnon, Action: ActionClientMount, Resource: fsARN, Conditions: ctx(true)}, nil, p))
	})
	t.Run("access point condition", func(t *testing.T) {
		p := mustParseResource(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"`+alice+`"},"Action":"elasticfilesystem:Client*",
			"Resource":"`+fsARN+`","Condition":{"StringEquals":{"elasticfilesystem:AccessPointArn":"`+apARN+`"}}}}`)
		c := ctx(true)
		c[KeyAccessPointARN] = []string{apARN}
		require.Equal(t, Allow, Decide(Request{Principal: pAlice, Action: ActionClientWrite, Resource: fsARN, Conditions: c}, nil, p))
		require.Equal(t, ImplicitDeny, Decide(Request{Principal: pAlice, Action: ActionClientWrite, Resource: fsARN, Conditions: ctx(true)}, nil, p), "not through the access point")
		require.Equal(t, ImplicitDeny, Decide(Request{Principal: pAnon, Action: ActionClientWrite, Resource: fsARN, Conditions: c}, nil, p), "anonymous")
	})
}

func TestLocksOut(t *testing.T) {
	admin := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"elasticfilesystem:*","Resource":"*"}}`)
	caller := Request{Principal: pAlice, Action: "ignored", Resource: fsARN, Conditions: map[string][]string{KeySourceIP: {"10.0.0.5"}}}
	tests := []struct {
		name     string
		policy   string
		caller   Request
		identity []*Policy
		want     bool
	}{
		{"client-only policy keeps API access", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}}`, caller, []*Policy{admin}, false},
		{"policy without ClientMount is not a lockout", `{"Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"elasticfilesystem:ClientMount"}}`, caller, []*Policy{admin}, false},
		{"deny all locks out", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`, caller, []*Policy{admin}, true},
		{"deny PutFileSystemPolicy to caller", `{"Statement":{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"elasticfilesystem:PutFileSystemPolicy"}}`, caller, []*Policy{admin}, true},
		{"deny to someone else", `{"Statement":{"Effect":"Deny","Principal":{"AWS":"` + bob + `"},"Action":"elasticfilesystem:PutFileSystemPolicy"}}`, caller, []*Policy{admin}, false},
		{"deny outside caller's network", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, caller, []*Policy{admin}, false},
		{"deny from caller's network", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, caller, []*Policy{admin}, true},
		{"caller allowed only by the new policy", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"elasticfilesystem:PutFileSystemPolicy"}}`, caller, nil, false},
		{"caller allowed by neither", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":"elasticfilesystem:PutFileSystemPolicy"}}`, caller, nil, true},
		{"root is locked out only by a deny", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":"*"}}`, Request{Principal: pRoot, Resource: fsARN}, nil, false},
		{"root denied", `{"Statement":{"Effect":"Deny","Principal":{"AWS":"` + acct + `"},"Action":"elasticfilesystem:Put*"}}`, Request{Principal: pRoot, Resource: fsARN}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWith([]byte(tt.policy), FileSystemPolicyOptions)
			require.NoError(t, err)
			require.Equal(t, tt.want, LocksOut(p, tt.caller, tt.identity))
		})
	}
}

func TestDecideConcurrent(t *testing.T) {
	id := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*",
		"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}}}`)
	res := mustParseResource(t, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:Delete*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				d := Decide(Request{Principal: pAlice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice/k",
					Conditions: map[string][]string{KeySourceIP: {"192.0.2.1"}}}, []*Policy{id}, res)
				if d != Allow {
					t.Errorf("decision %v", d)
					return
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func BenchmarkDecide(b *testing.B) {
	id := mustParse(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticfilesystem:*","Resource":"*"},
		{"Effect":"Deny","Action":"elasticfilesystem:Delete*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	res, err := ParseWith([]byte(DefaultFileSystemPolicy), FileSystemPolicyOptions)
	require.NoError(b, err)
	req := Request{Principal: pAlice, Action: ActionClientWrite, Resource: fsARN,
		Conditions: map[string][]string{KeySecureTransport: {"true"}, KeyAccessedViaMountTarget: {"true"}, KeySourceIP: {"127.0.1.20"}}}
	b.ReportAllocs()
	for b.Loop() {
		if Decide(req, []*Policy{id}, res) != Allow {
			b.Fatal("not allowed")
		}
	}
}
