package conf

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// streamARN is a parsed arn:<partition>:kinesis:<region>:<account>:stream/<name>.
type streamARN struct {
	Partition, Region, Account, Name string
}

const (
	streamARNForm = "arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>"
	roleARNForm   = "arn:<partition>:iam::<12-digit account>:role/<name>"
)

func parseStreamARN(s string) (streamARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return streamARN{}, errors.New("want " + streamARNForm)
	}
	a := streamARN{Partition: parts[1], Region: parts[3], Account: parts[4]}
	if !validPartition(a.Partition) {
		return streamARN{}, errors.New("bad partition " + strconv.Quote(a.Partition) + "; want " + streamARNForm)
	}
	if parts[2] != "kinesis" {
		return streamARN{}, errors.New("service " + strconv.Quote(parts[2]) + " is not kinesis; want " + streamARNForm)
	}
	if !validRegion(a.Region) {
		return streamARN{}, errors.New("bad region " + strconv.Quote(a.Region) + "; want " + streamARNForm)
	}
	if !validAccount(a.Account) {
		return streamARN{}, errors.New("account " + strconv.Quote(a.Account) + " is not 12 digits; want " + streamARNForm)
	}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok {
		return streamARN{}, errors.New("resource " + strconv.Quote(parts[5]) + " is not stream/<name>; want " + streamARNForm)
	}
	if err := checkStreamName(name); err != nil {
		return streamARN{}, errors.New("stream name " + strconv.Quote(name) + ": " + err.Error())
	}
	a.Name = name
	return a, nil
}

// checkStreamName applies Kinesis' rule: 1-128 characters of [a-zA-Z0-9_.-].
func checkStreamName(s string) error {
	if len(s) < 1 || len(s) > 128 {
		return errors.New("want 1-128 characters")
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-' {
			return errors.New("want 1-128 characters of a-z, A-Z, 0-9, _, . and -")
		}
	}
	return nil
}

func checkRoleARN(s string) error {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return errors.New("want " + roleARNForm)
	}
	if !validPartition(parts[1]) {
		return errors.New("bad partition " + strconv.Quote(parts[1]) + "; want " + roleARNForm)
	}
	if parts[2] != "iam" {
		return errors.New("service " + strconv.Quote(parts[2]) + " is not iam; want " + roleARNForm)
	}
	if parts[3] != "" {
		return errors.New("IAM ARNs have no region; want " + roleARNForm)
	}
	if !validAccount(parts[4]) {
		return errors.New("account " + strconv.Quote(parts[4]) + " is not 12 digits; want " + roleARNForm)
	}
	name, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || name == "" || strings.HasSuffix(name, "/") || strings.HasPrefix(name, "/") {
		return errors.New("resource " + strconv.Quote(parts[5]) + " is not role/<name>; want " + roleARNForm)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && !strings.ContainsRune("+=,.@_/-", rune(c)) {
			return errors.New("role name " + strconv.Quote(name) + " has characters IAM does not allow")
		}
	}
	return nil
}

// checkExternalID applies STS's rule for AssumeRole ExternalId. The value is a secret, so the
// message never repeats it.
func checkExternalID(s string) error {
	if len(s) < 2 || len(s) > 1224 {
		return errors.New("want 2-1224 characters")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("+=,.@:/_-", rune(c)) {
			return errors.New("want characters a-z, A-Z, 0-9 and +=,.@:/_-")
		}
	}
	return nil
}

// validRegion accepts the shape of AWS region names (us-east-1, us-gov-west-1, eusc-de-east-1)
// without listing them, so new regions keep working: lower-case letters, digits and single
// hyphens, starting with a letter.
func validRegion(s string) bool {
	if s == "" || len(s) > 64 || !isLower(s[0]) || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// validPartition accepts aws, aws-cn, aws-us-gov, aws-iso-b and any later partition of that shape.
func validPartition(s string) bool { return validRegion(s) }

func validAccount(s string) bool { return len(s) == 12 && isDigits(s) }

// checkEndpoint wants an absolute http or https URL with a host. User info is refused because
// the value is logged at start-up.
func checkEndpoint(s string) error {
	const want = "want an http:// or https:// URL with a host, e.g. https://kinesis.us-east-1.amazonaws.com"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return errors.New(want)
	}
	if u.Hostname() == "" {
		return errors.New("missing host; " + want)
	}
	if u.User != nil {
		return errors.New("credentials in the URL are not allowed")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return errors.New("query and fragment are not allowed; " + want)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("port " + strconv.Quote(p) + " is not 1-65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("empty port; " + want)
	}
	return nil
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || c >= 'A' && c <= 'Z' || isDigit(c) }
