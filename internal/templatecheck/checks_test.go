package templatecheck

import (
	"strings"
	"testing"
)

// goodSnippet is a minimal template that passes every check; each case below breaks it once.
const goodSnippet = `
Parameters:
  Refresh:
    Type: String
    Default: "true"
Conditions:
  IsRefresh: !Equals [!Ref Refresh, "true"]
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
    Handler: bootstrap
    Environment:
      Variables:
        LOG_LEVEL: info
        DATACLOUD_ALLOWED_HOSTS: .salesforce.com
Resources:
  TokenSecret:
    Type: AWS::SecretsManager::Secret
  CredentialsSecret:
    Type: AWS::SecretsManager::Secret
  Bucket:
    Type: AWS::S3::Bucket
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: AWS_IAM
  QueryTriggerFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      CodeUri: .
      Environment:
        Variables:
          DATACLOUD_TOKEN_SECRET: !Ref TokenSecret
          DATACLOUD_CREDENTIALS_SECRET: !If [IsRefresh, !Ref CredentialsSecret, ""]
      Policies:
        - Statement:
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref TokenSecret
            - Effect: Allow
              Action: [s3:GetObject]
              Resource: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/ingest/*"
        - !If
          - IsRefresh
          - Statement:
              - Effect: Allow
                Action: secretsmanager:PutSecretValue
                Resource: !Ref TokenSecret
          - !Ref AWS::NoValue
      Events:
        Query:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: POST
            Path: /query
`

func TestChecksReportBrokenTemplates(t *testing.T) {
	rules := Rules{
		Env: map[string][]string{"QueryTriggerFunction": {"DATACLOUD_TOKEN_SECRET", "DATACLOUD_CREDENTIALS_SECRET", "LOG_LEVEL", "DATACLOUD_ALLOWED_HOSTS"}},
		Secrets: map[string]SecretAccess{"QueryTriggerFunction": {
			"secretsmanager:GetSecretValue": {"TokenSecret", "CredentialsSecret"},
			"secretsmanager:PutSecretValue": {"TokenSecret"},
		}},
		NeedsSecrets: map[string]SecretAccess{"QueryTriggerFunction": {"secretsmanager:GetSecretValue": {"TokenSecret"}}},
	}
	tests := []struct {
		name     string
		old, new string // replacement applied to goodSnippet
		want     string // substring of one finding
	}{
		{"wildcard s3 resource", `Resource: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/ingest/*"`, `Resource: "*"`,
			"wildcard-resource: QueryTriggerFunction: actions s3:getobject on wildcard resource *"},
		{"wildcard bucket arn", `${Bucket}/ingest/*`, `*/ingest/*`, "wildcard-resource: QueryTriggerFunction"},
		{"wildcard secret resource", "Action: secretsmanager:GetSecretValue\n              Resource: !Ref TokenSecret",
			"Action: secretsmanager:GetSecretValue\n              Resource: '*'", "wildcard-resource: QueryTriggerFunction"},
		{"wildcard action", "Action: [s3:GetObject]", "Action: ['s3:*']", "wildcard action s3:*"},
		{"wildcard in conditional branch", "Action: secretsmanager:PutSecretValue\n                Resource: !Ref TokenSecret",
			"Action: secretsmanager:PutSecretValue\n                Resource: '*'", "wildcard-resource: QueryTriggerFunction"},
		{"secret not needed", "Action: secretsmanager:PutSecretValue\n                Resource: !Ref TokenSecret",
			"Action: secretsmanager:PutSecretValue\n                Resource: !Ref CredentialsSecret",
			"secret-access: QueryTriggerFunction: secretsmanager:putsecretvalue on CredentialsSecret is not needed"},
		{"secret by literal arn", "Resource: !Ref TokenSecret\n            - Effect", "Resource: arn:aws:secretsmanager:us-east-1:1:secret:x\n            - Effect",
			"not a Ref to a secret of this template"},
		{"missing needed access", "Action: secretsmanager:GetSecretValue\n              Resource: !Ref TokenSecret",
			"Action: secretsmanager:DescribeSecret\n              Resource: !Ref TokenSecret",
			"secret-access: QueryTriggerFunction: lacks secretsmanager:GetSecretValue on TokenSecret"},
		{"unreviewable policy", "      Policies:\n", "      Policies:\n        - SecretsManagerReadWrite\n", "managed policy SecretsManagerReadWrite cannot be reviewed"},
		{"api without iam", "DefaultAuthorizer: AWS_IAM", "DefaultAuthorizer: MyJwt", "api-auth: Api: HttpApi without Auth.DefaultAuthorizer: AWS_IAM"},
		{"route authorizer off", "Path: /query", "Path: /query\n            Auth:\n              Authorizer: NONE", "route authorizer is NONE"},
		{"implicit api", "            ApiId: !Ref Api\n", "", "route on the implicit HttpApi"},
		{"rest api event", "Type: HttpApi", "Type: Api", "REST Api event"},
		{"runtime", "Runtime: provided.al2023", "Runtime: go1.x", `Runtime is "go1.x", want provided.al2023`},
		{"architecture", "Architectures: [arm64]", "Architectures: [x86_64]", "Architectures is [x86_64], want [arm64]"},
		{"no architecture", "    Architectures: [arm64]\n", "", "Architectures is [], want [arm64]"},
		{"handler", "Handler: bootstrap", "Handler: main", `Handler is "main", want bootstrap`},
		{"build method", "BuildMethod: makefile", "BuildMethod: go1.x", `Metadata.BuildMethod is "go1.x", want makefile`},
		{"missing env", "        LOG_LEVEL: info\n", "", "env: QueryTriggerFunction: missing environment variable LOG_LEVEL"},
		{"unknown function", "  QueryTriggerFunction:\n", "  OtherFunction:\n", "env: OtherFunction: function has no entry in the contract rules"},
	}
	if got := Check(mustParse(t, goodSnippet), rules); len(got) != 0 {
		t.Fatalf("the good snippet has findings: %v", got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodSnippet, tc.old) {
				t.Fatalf("test case does not apply: %q not in the snippet", tc.old)
			}
			bad := strings.Replace(goodSnippet, tc.old, tc.new, 1)
			findings := Check(mustParse(t, bad), rules)
			for _, f := range findings {
				if strings.Contains(f.String(), tc.want) {
					return
				}
			}
			t.Errorf("no finding contains %q; findings: %v", tc.want, findings)
		})
	}
}

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tmpl, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestParseRejectsBadInput(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown tag", "Resources:\n  A:\n    Type: !Bogus x\n", "unknown tag !Bogus"},
		{"getatt without attribute", "Resources:\n  A:\n    Type: X\n    Properties:\n      P: !GetAtt Thing\n", "not Resource.Attribute"},
		{"resource without type", "Resources:\n  A:\n    Properties: {}\n", "resource A has no Type"},
		{"not a mapping", "- a\n- b\n", "not a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestResolverIntrinsics(t *testing.T) {
	tmpl := mustParse(t, goodSnippet+`
  Extra:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SUB: !Sub "${AWS::StackName}-${Refresh}-${Bucket.Arn}-${!Literal}"
          JOIN: !Join [",", [a, !Ref Refresh]]
          SELECT: !Select [1, [x, y]]
          DROPPED: !If [IsRefresh, !Ref AWS::NoValue, kept]
          NOT: !If [IsRefresh, !Ref "AWS::Region", other]
`)
	f, err := tmpl.Function("Extra")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.NewResolver(nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := r.Env(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"SUB": "local-true-Bucket.Arn-${Literal}", "JOIN": "a,true", "SELECT": "y", "NOT": "us-east-1"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if v, ok := env["DROPPED"]; ok {
		t.Errorf("DROPPED = %q, want it left out (AWS::NoValue)", v)
	}
	if _, err := tmpl.Function("Missing"); err == nil || !strings.Contains(err.Error(), `no function "Missing"`) {
		t.Errorf("Function(Missing) err = %v", err)
	}
}
