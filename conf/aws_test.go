package conf

import (
	"strings"
	"testing"
)

func TestParseStreamARN(t *testing.T) {
	valid := []struct {
		in   string
		want streamARN
	}{
		{"arn:aws:kinesis:us-east-1:123456789012:stream/my-stream",
			streamARN{Partition: "aws", Region: "us-east-1", Account: "123456789012", Name: "my-stream"}},
		{"arn:aws-cn:kinesis:cn-north-1:000000000000:stream/a.b_c-D9",
			streamARN{Partition: "aws-cn", Region: "cn-north-1", Account: "000000000000", Name: "a.b_c-D9"}},
		{"arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/x",
			streamARN{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012", Name: "x"}},
		{"arn:aws-eusc:kinesis:eusc-de-east-1:123456789012:stream/" + strings.Repeat("s", 128),
			streamARN{Partition: "aws-eusc", Region: "eusc-de-east-1", Account: "123456789012", Name: strings.Repeat("s", 128)}},
	}
	for _, tt := range valid {
		got, err := parseStreamARN(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseStreamARN(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}

	invalid := []struct{ in, want string }{
		{"", "want arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>"},
		{"my-stream", "want arn:"},
		{"arn:aws:kinesis:us-east-1:123456789012", "want arn:"},
		{"urn:aws:kinesis:us-east-1:123456789012:stream/s", "want arn:"},
		{"arn::kinesis:us-east-1:123456789012:stream/s", `bad partition ""`},
		{"arn:AWS:kinesis:us-east-1:123456789012:stream/s", `bad partition "AWS"`},
		{"arn:aws:firehose:us-east-1:123456789012:stream/s", `service "firehose" is not kinesis`},
		{"arn:aws:kinesis::123456789012:stream/s", `bad region ""`},
		{"arn:aws:kinesis:US-EAST-1:123456789012:stream/s", `bad region "US-EAST-1"`},
		{"arn:aws:kinesis:us-east-1:12345678901:stream/s", `account "12345678901" is not 12 digits`},
		{"arn:aws:kinesis:us-east-1:1234567890123:stream/s", `account "1234567890123" is not 12 digits`},
		{"arn:aws:kinesis:us-east-1:12345678901a:stream/s", `account "12345678901a" is not 12 digits`},
		{"arn:aws:kinesis:us-east-1:123456789012:deliverystream/s", `resource "deliverystream/s" is not stream/<name>`},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/", `stream name "": want 1-128 characters`},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/" + strings.Repeat("s", 129), "want 1-128 characters"},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1", `stream name "s/consumer/c:1": want 1-128 characters of a-z`},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/a b", `stream name "a b"`},
	}
	for _, tt := range invalid {
		got, err := parseStreamARN(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseStreamARN(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckStreamName(t *testing.T) {
	for _, ok := range []string{"a", "my-stream", "A.b_C-9", strings.Repeat("x", 128)} {
		if err := checkStreamName(ok); err != nil {
			t.Errorf("checkStreamName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 129), "a b", "a/b", "a:b", `"s"`, "ü"} {
		if err := checkStreamName(bad); err == nil {
			t.Errorf("checkStreamName(%q) accepted", bad)
		}
	}
}

func TestCheckRoleARN(t *testing.T) {
	for _, ok := range []string{
		"arn:aws:iam::123456789012:role/my-role",
		"arn:aws:iam::123456789012:role/path/to/Role+=,.@_-x",
		"arn:aws-cn:iam::123456789012:role/r",
	} {
		if err := checkRoleARN(ok); err != nil {
			t.Errorf("checkRoleARN(%q) = %v", ok, err)
		}
	}
	invalid := []struct{ in, want string }{
		{"my-role", "want arn:<partition>:iam::<12-digit account>:role/<name>"},
		{"arn:aws:iam::123456789012", "want arn:"},
		{"arn:Aws:iam::123456789012:role/r", `bad partition "Aws"`},
		{"arn:aws:sts::123456789012:role/r", `service "sts" is not iam`},
		{"arn:aws:iam:us-east-1:123456789012:role/r", "IAM ARNs have no region"},
		{"arn:aws:iam::12345:role/r", `account "12345" is not 12 digits`},
		{"arn:aws:iam::123456789012:user/u", `resource "user/u" is not role/<name>`},
		{"arn:aws:iam::123456789012:role/", `resource "role/" is not role/<name>`},
		{"arn:aws:iam::123456789012:role/path/", `resource "role/path/" is not role/<name>`},
		{"arn:aws:iam::123456789012:role/a b", `role name "a b" has characters IAM does not allow`},
		{"arn:aws:iam::123456789012:role/a:b", `role name "a:b" has characters IAM does not allow`},
	}
	for _, tt := range invalid {
		err := checkRoleARN(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkRoleARN(%q) = %v; want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestCheckExternalID(t *testing.T) {
	for _, ok := range []string{"ab", "Ext-Id_1+=,.@:/", strings.Repeat("x", 1224)} {
		if err := checkExternalID(ok); err != nil {
			t.Errorf("checkExternalID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"Z", strings.Repeat("x", 1225), "Z Y", "Z#Y", "ü1"} {
		err := checkExternalID(bad)
		if err == nil {
			t.Errorf("checkExternalID(%q) accepted", bad)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("checkExternalID(%q) error %q repeats the secret", bad, err)
		}
	}
}

func TestValidRegion(t *testing.T) {
	for _, ok := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "eusc-de-east-1", "local"} {
		if !validRegion(ok) {
			t.Errorf("validRegion(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "US-EAST-1", "us_east_1", "-us-east-1", "us-east-1-", "us--east-1", "1us", "us east 1", `"us-east-1"`, strings.Repeat("a", 65)} {
		if validRegion(bad) {
			t.Errorf("validRegion(%q) = true", bad)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, ok := range []string{
		"https://kinesis.us-east-1.amazonaws.com",
		"http://127.0.0.1:4567",
		"http://localhost:4566/",
		"https://[::1]:443",
		"https://vpce-1.kinesis.us-east-1.vpce.amazonaws.com/prefix",
		"HTTPS://example.com",
	} {
		if err := checkEndpoint(ok); err != nil {
			t.Errorf("checkEndpoint(%q) = %v", ok, err)
		}
	}
	invalid := []struct{ in, want string }{
		{"kinesis.us-east-1.amazonaws.com", "want an http:// or https:// URL with a host"},
		{"localhost:4566", "want an http:// or https:// URL with a host"},
		{"ftp://example.com", "want an http:// or https:// URL"},
		{"https:example.com", "want an http:// or https:// URL"},
		{"https://", "missing host"},
		{"https:///path", "missing host"},
		{"https://:443", "missing host"},
		{"https://user:pw@example.com", "credentials in the URL are not allowed"},
		{"https://example.com?x=1", "query and fragment are not allowed"},
		{"https://example.com?", "query and fragment are not allowed"},
		{"https://example.com#frag", "query and fragment are not allowed"},
		{"https://example.com:0", `port "0" is not 1-65535`},
		{"https://example.com:65536", `port "65536" is not 1-65535`},
		{"https://example.com:", "empty port"},
		{"https://example.com:abc", "want an http:// or https:// URL"},
		{"https://exa mple.com", "want an http:// or https:// URL"},
	}
	for _, tt := range invalid {
		err := checkEndpoint(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkEndpoint(%q) = %v; want error containing %q", tt.in, err, tt.want)
		}
	}
}
